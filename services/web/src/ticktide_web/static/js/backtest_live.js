// A batch followed live from its SSE stream (GET /api/crypto/backtest/batch/{id}/events):
// the progressbar (jobs done of jobs in all), done/total and the ETA, results
// into the Results table as they arrive, each failed job listed, Cancel while it
// runs, and the summary at the end.
//
// EventSource reconnects by itself and sends Last-Event-ID, so the stream
// resumes where it broke. Should the browser give up on it (readyState CLOSED,
// e.g. after a long time offline), a new EventSource replays the stream from
// the start; either way every event id and every result key is taken once,
// so each result appears exactly once.

import { api, showError } from "./api.js";
import { durationText, metricText, paramsText } from "./backtest_format.js";

const RETRY_MIN_MS = 1000;
const RETRY_MAX_MS = 15000;
const RECONCILE_LIMIT = 20000;

export class LiveBatch {
  constructor(panel, table, { batchId, total = 0, done = 0, state = "queued", onFinish = null } = {}) {
    this.panel = panel;
    this.table = table;
    this.batchId = batchId;
    this.total = total;
    this.done = done;
    this.state = state;
    this.onFinish = onFinish;
    this.seen = new Set();
    this.errors = new Map();
    this.finished = false;
    this.source = null;
    this.retry = RETRY_MIN_MS;
    this.retryTimer = null;
    this.eta = null;
    this.progressbar = panel.querySelector("[data-progressbar]");
    this.meter = panel.querySelector("[data-progress-meter]");
    this.text = panel.querySelector("[data-progress-text]");
    this.etaText = panel.querySelector("[data-eta]");
    this.badge = panel.querySelector("[data-state-badge]");
    this.status = panel.querySelector("[data-live-status]");
    this.errorBox = panel.querySelector("[data-job-errors]");
    this.errorList = panel.querySelector("[data-job-errors-list]");
    this.errorCount = panel.querySelector("[data-job-errors-count]");
    this.summary = panel.querySelector("[data-summary]");
    this.cancelForm = panel.querySelector("[data-cancel-form]");
    if (panel.dataset.batchId !== batchId) this.clearPanel();
    for (const item of panel.querySelectorAll("[data-job-error]")) this.errors.set(item.dataset.jobError, item);
    if (this.cancelForm) {
      this.cancelForm.action = `/backtests/${batchId}/cancel`;
      this.cancelForm.hidden = false;
      this.onCancel = (event) => this.cancel(event);
      this.cancelForm.addEventListener("submit", this.onCancel);
      const button = this.cancelForm.querySelector("button");
      if (button) button.disabled = false;
    }
    panel.dataset.batchId = batchId;
    this.showProgress();
  }

  // The panel of an earlier batch (the form's live view), emptied for this one.
  clearPanel() {
    this.errorList.replaceChildren();
    this.errorCount.textContent = "0";
    this.errorBox.hidden = true;
    this.summary.textContent = "";
    this.summary.hidden = true;
    this.say("");
  }

  start() {
    this.open();
    return this;
  }

  stop() {
    this.finished = true;
    if (this.source) this.source.close();
    if (this.retryTimer) clearTimeout(this.retryTimer);
    if (this.cancelForm && this.onCancel) this.cancelForm.removeEventListener("submit", this.onCancel);
  }

  open() {
    if (this.finished) return;
    const source = new EventSource(`/api/crypto/backtest/batch/${this.batchId}/events`);
    this.source = source;
    const handle = (kind) => (event) => {
      if (event.lastEventId) {
        if (this.seen.has(event.lastEventId)) return;
        this.seen.add(event.lastEventId);
      }
      let data;
      try {
        data = JSON.parse(event.data);
      } catch {
        return;
      }
      this.retry = RETRY_MIN_MS;
      this[kind](data);
    };
    source.addEventListener("queued", handle("onQueued"));
    source.addEventListener("progress", handle("onProgress"));
    source.addEventListener("result", handle("onResult"));
    source.addEventListener("error", (event) => {
      // Both a job's `error` event (with data) and the connection's error land here.
      if (event.data !== undefined) handle("onJobError")(event);
      else this.onConnectionError(source);
    });
    source.addEventListener("summary", handle("onSummary"));
    source.addEventListener("open", () => {
      if (this.connectionLost) {
        this.connectionLost = false;
        this.say("Connection back; catching up.");
        this.showProgress();
      }
    });
  }

  onConnectionError(source) {
    if (this.finished) return;
    this.connectionLost = true;
    this.setEta("· connection lost, reconnecting…");
    if (source.readyState !== EventSource.CLOSED) return; // the browser retries with Last-Event-ID
    source.close();
    this.retryTimer = setTimeout(() => this.recover(), this.retry);
    this.retry = Math.min(this.retry * 2, RETRY_MAX_MS);
  }

  async recover() {
    this.retryTimer = null;
    if (this.finished) return;
    try {
      await api(`/api/crypto/backtest/batch/${this.batchId}`, { params: { limit: 1 } });
    } catch (error) {
      if (error.status === 404) {
        showError(`Batch ${this.batchId} is no longer there.`, { replaceKey: "bt-live" });
        this.stop();
        return;
      }
      this.retryTimer = setTimeout(() => this.recover(), this.retry);
      this.retry = Math.min(this.retry * 2, RETRY_MAX_MS);
      return;
    }
    this.open(); // replays from the start; seen ids and result keys drop the repeats
  }

  onQueued(data) {
    if (typeof data.jobs === "number") this.total = data.jobs;
    this.showProgress();
  }

  onProgress(data) {
    if (typeof data.total === "number") this.total = data.total;
    if (typeof data.done === "number") this.done = Math.max(this.done, data.done);
    this.eta = typeof data.eta_seconds === "number" ? data.eta_seconds : null;
    if (this.state === "queued") this.state = "running";
    this.showProgress();
  }

  onResult(data) {
    this.table.add(data);
  }

  onJobError(data) {
    const key = String(data.job_id ?? data.error);
    if (this.errors.has(key)) return;
    const item = document.createElement("li");
    item.dataset.jobError = key;
    const where = data.symbol ? ` (${data.symbol} ${data.interval}, ${data.backtests ?? "?"} backtests)` : "";
    item.textContent = `Job ${data.job_id ?? "?"}${where}: ${data.error}`;
    this.errors.set(key, item);
    this.errorList.append(item);
    this.errorCount.textContent = String(this.errors.size);
    this.errorBox.hidden = false;
  }

  async onSummary(data) {
    this.finished = true;
    if (this.source) this.source.close();
    this.state = data.status || "done";
    if (typeof data.total_jobs === "number") this.total = data.total_jobs;
    const over = (data.jobs_done || 0) + (data.jobs_failed || 0) + (data.jobs_skipped || 0);
    this.done = Math.max(this.done, over || this.total);
    this.eta = null;
    if (typeof data.results === "number" && this.table.size < data.results) await this.reconcile(data.results);
    this.table.render();
    this.showProgress();
    if (this.cancelForm) this.cancelForm.hidden = true;
    const took = typeof data.seconds === "number" ? ` in ${durationText(data.seconds)}` : "";
    const best = (data.best || [])[0];
    let text = `${this.state === "cancelled" ? "Cancelled" : "Finished"}${took}: ${(data.results ?? this.table.size).toLocaleString("en-US")} results`;
    if (data.jobs_failed) text += `, ${data.jobs_failed} jobs failed`;
    if (data.jobs_skipped) text += `, ${data.jobs_skipped} jobs skipped`;
    if (best) {
      const rank = data.rank_by || "sharpe";
      text += `. Best by ${rank}: ${best.symbol} ${best.interval} ${paramsText(best.params)} (${metricText(rank, (best.metrics || {})[rank])}).`;
    }
    this.summary.textContent = text;
    this.summary.hidden = false;
    this.setEta(took ? `· took ${durationText(data.seconds)}` : "");
    this.say(`The batch is ${this.state}: ${this.table.size.toLocaleString("en-US")} results in the table.`);
    if (this.onFinish) this.onFinish(data);
  }

  // Results the stream no longer holds (trimmed) come from the batch's status.
  async reconcile(expected) {
    try {
      const batch = await api(`/api/crypto/backtest/batch/${this.batchId}`, {
        params: { limit: Math.min(expected, RECONCILE_LIMIT) },
      });
      for (const result of batch.results || []) this.table.add(result);
      for (const failure of batch.errors || []) this.onJobError(failure);
    } catch (error) {
      showError(`Some results could not be loaded: ${error.message}`, { replaceKey: "bt-live" });
    }
  }

  async cancel(event) {
    event.preventDefault();
    const button = this.cancelForm.querySelector("button");
    if (button) button.disabled = true;
    try {
      const answer = await api(`/api/crypto/backtest/batch/${this.batchId}`, { method: "DELETE" });
      if (!this.finished) {
        this.state = answer && answer.status === "done" ? "done" : "cancelling";
        this.showProgress();
        this.say("Cancelling: the jobs not yet run are skipped.");
      }
    } catch (error) {
      if (button) button.disabled = false;
      showError(`The batch could not be cancelled: ${error.message}`, { replaceKey: "bt-cancel" });
    }
  }

  showProgress() {
    const total = Math.max(this.total, 0);
    const done = Math.min(this.done, total || this.done);
    this.progressbar.setAttribute("aria-valuemax", String(total || 1));
    this.progressbar.setAttribute("aria-valuenow", String(done));
    this.progressbar.setAttribute("aria-valuetext", `${done} of ${total} jobs done`);
    this.meter.max = total || 1;
    this.meter.value = done;
    this.text.textContent = `${done}/${total}`;
    this.panel.dataset.done = String(done);
    this.panel.dataset.total = String(total);
    this.panel.dataset.state = this.state;
    this.panel.dispatchEvent(new CustomEvent("bt:progress", { detail: { batchId: this.batchId, done, total, state: this.state } }));
    this.badge.textContent = this.state;
    this.badge.className = `badge bt-state bt-state-${this.state}`;
    if (!this.finished && !this.connectionLost) {
      if (this.eta !== null && done < total) this.setEta(`· ETA ${durationText(this.eta)}`);
      else if (done >= total && total > 0) this.setEta("· finishing…");
      else if (done === 0) this.setEta("· waiting for the first job");
    }
  }

  setEta(text) {
    if (this.etaText) this.etaText.textContent = text;
  }

  say(text) {
    if (this.status) this.status.textContent = text;
  }
}
