// /backtests with JavaScript: the parameter fields follow the chosen strategy
// (built from its JSON Schema, no reload), each field is checked as it is left
// (backtest_grid.js, the same rules as the server's), the grid's size is
// counted as it is typed, and Run posts the batch from the browser and follows
// it live on this page. Without JavaScript the form posts to the server, which
// does the same checks.

import { api, clearError, el, showError } from "./api.js";
import { GridSyntaxError, combinations, defaultText, helpText, paramSpecs, parseSymbols, parseValues } from "./backtest_grid.js";
import { LiveBatch } from "./backtest_live.js";
import { ResultsTable } from "./backtest_results.js";

const INTERVALS = ["1h", "4h", "1d"];
const SYMBOL_HELP = "One pair, or several separated by commas (BTCUSDT,ETHUSDT). ";
const FIELD_NAMES = {
  symbols: "symbols", intervals: "interval", start: "start", end: "end", fee: "fee",
  slippage_bps: "slippage_bps", initial_cash: "initial_cash", rank_by: "rank_by",
  train_bars: "train_bars", test_bars: "test_bars", strategy: "strategy",
};

const form = document.querySelector("[data-backtest-form]");
const dataBlock = document.getElementById("bt-form-data");

if (form && dataBlock) {
  const data = JSON.parse(dataBlock.textContent);
  const strategies = data.strategies || {};
  const symbols = data.symbols || [];
  const strategySelect = form.querySelector("[data-strategy-select]");
  const paramBox = form.querySelector("[data-param-fields]");
  const gridCount = form.querySelector("[data-grid-count]");
  const runButton = form.querySelector("[data-run-button]");
  const typed = {}; // strategy → { parameter → text }, kept while switching
  let live = null;
  let table = null;

  const input = (name) => form.elements.namedItem(name);
  const specsOf = (strategy) => paramSpecs((strategies[strategy] || {}).parameters);

  function setFieldError(field, message) {
    const id = `${field.id}-error`;
    let box = document.getElementById(id);
    const described = (field.getAttribute("aria-describedby") || "").split(" ").filter((t) => t && t !== id);
    if (message) {
      if (!box) {
        box = el("div", { class: "invalid-feedback", id });
        (field.parentElement.querySelector(".form-text") || field).after(box);
      }
      box.textContent = message;
      field.classList.add("is-invalid");
      field.setAttribute("aria-invalid", "true");
      described.push(id);
    } else {
      if (box) box.remove();
      field.classList.remove("is-invalid");
      field.removeAttribute("aria-invalid");
    }
    if (described.length) field.setAttribute("aria-describedby", described.join(" "));
    else field.removeAttribute("aria-describedby");
  }

  function paramField(spec, value) {
    const id = `f-p_${spec.name}`;
    return el(
      "div",
      { class: "mb-3" },
      el("label", { class: "form-label", for: id }, spec.name),
      el("input", {
        class: "form-control", id, name: `p_${spec.name}`, type: "text", value,
        autocomplete: "off", spellcheck: "false", autocapitalize: "off",
        "data-param": spec.name, "data-integer": spec.integer ? "1" : "0",
        "aria-describedby": `${id}-help`,
      }),
      el("div", { class: "form-text", id: `${id}-help` }, helpText(spec)),
    );
  }

  function rememberParams() {
    const current = strategySelect.dataset.current || strategySelect.value;
    typed[current] = {};
    for (const field of paramBox.querySelectorAll("[data-param]")) typed[current][field.dataset.param] = field.value;
  }

  function showStrategy(strategy) {
    const specs = specsOf(strategy);
    const kept = typed[strategy] || {};
    paramBox.replaceChildren(
      ...(specs.length
        ? specs.map((spec) => paramField(spec, kept[spec.name] ?? defaultText(spec)))
        : [el("p", { class: "text-body-secondary small" }, `${strategy} has no parameters: one backtest per series.`)]),
    );
    for (const spec of specs) {
      // A value typed before switching away is checked again as it comes back.
      if (kept[spec.name] === undefined) continue;
      const field = input(`p_${spec.name}`);
      try {
        parseValues(field.value, spec);
      } catch (error) {
        if (error instanceof GridSyntaxError) setFieldError(field, error.message);
      }
    }
    const help = form.querySelector("[data-strategy-help]");
    if (help) help.textContent = (strategies[strategy] || {}).description || "";
    strategySelect.dataset.current = strategy;
    countGrid();
  }

  function readGrid(strategy, { mark = false } = {}) {
    const grid = {};
    const errors = {};
    for (const spec of specsOf(strategy)) {
      const field = input(`p_${spec.name}`);
      try {
        grid[spec.name] = parseValues(field ? field.value : "", spec);
        if (mark && field) setFieldError(field, null);
      } catch (error) {
        if (!(error instanceof GridSyntaxError)) throw error;
        errors[`p_${spec.name}`] = error.message;
      }
    }
    return { grid, errors };
  }

  function countGrid() {
    const { grid, errors } = readGrid(strategySelect.value);
    if (Object.keys(errors).length) {
      gridCount.textContent = "";
      return;
    }
    const n = combinations(grid);
    const series = (() => {
      try {
        return parseSymbols(input("symbols").value).length;
      } catch {
        return 1;
      }
    })();
    const sets = `${n.toLocaleString("en-US")} parameter ${n === 1 ? "set" : "sets"} per series`;
    gridCount.textContent = series > 1
      ? `${sets}, ${(n * series).toLocaleString("en-US")} backtests for ${series} symbols (before dropping impossible ones such as fast ≥ slow)`
      : `${sets} (before dropping impossible ones such as fast ≥ slow)`;
  }

  function storedText() {
    let first = "";
    try {
      first = parseSymbols(input("symbols").value)[0];
    } catch {
      return "";
    }
    const interval = input("interval").value;
    const entry = symbols.find((s) => s.symbol === first);
    if (!entry) return "";
    const info = (entry.intervals || {})[interval];
    if (!info) return `Nothing stored for ${first} ${interval} yet.`;
    const day = (t) => String(t || "").slice(0, 10);
    return `Stored ${first} ${interval}: ${day(info.first)} to ${day(info.last)} (${Number(info.candles || 0).toLocaleString("en-US")} candles).`;
  }

  function updateStored() {
    const help = document.getElementById("f-symbols-help");
    if (help) help.textContent = SYMBOL_HELP + storedText();
  }

  function number(text, label, { low, high = null, lowOpen = false }) {
    const token = String(text).trim();
    const value = token === "" ? NaN : Number(token);
    if (!Number.isFinite(value)) throw new GridSyntaxError(`${label} must be a number`);
    if (lowOpen ? value <= low : value < low) throw new GridSyntaxError(`${label} must be ${lowOpen ? "above" : "at least"} ${low}`);
    if (high !== null && value > high) throw new GridSyntaxError(`${label} must be at most ${high}`);
    return value;
  }

  function whole(text, label, low) {
    const token = String(text).trim();
    if (!token) return null;
    if (!/^\d+$/.test(token) || Number(token) < low) throw new GridSyntaxError(`${label} must be a whole number of at least ${low}`);
    return Number(token);
  }

  function day(text, label) {
    const token = String(text).trim();
    if (!/^\d{4}-\d{2}-\d{2}$/.test(token) || Number.isNaN(Date.parse(`${token}T00:00:00Z`))) {
      throw new GridSyntaxError(`${label} must be a date (YYYY-MM-DD)`);
    }
    return token;
  }

  // The batch request of the form, or the errors keyed by field name (as the server's read_form).
  function readForm() {
    const errors = {};
    const attempt = (name, read) => {
      try {
        return read();
      } catch (error) {
        if (!(error instanceof GridSyntaxError)) throw error;
        errors[name] = error.message;
        return null;
      }
    };
    const strategy = strategySelect.value;
    if (!(strategy in strategies)) errors.strategy = "Choose one of the strategies.";
    const body = { strategy };
    body.symbols = attempt("symbols", () => parseSymbols(input("symbols").value));
    const interval = input("interval").value;
    if (!INTERVALS.includes(interval)) errors.interval = `Choose one of ${INTERVALS.join(", ")}.`;
    body.intervals = [interval];
    const start = attempt("start", () => day(input("start").value, "Start"));
    const end = attempt("end", () => day(input("end").value, "End"));
    if (start && end && end <= start) errors.end = "End must be after Start (Start is included, End is not).";
    body.start = start ? `${start}T00:00:00Z` : null;
    body.end = end ? `${end}T00:00:00Z` : null;
    body.fee = attempt("fee", () => number(input("fee").value, "Fee", { low: 0, high: 0.499999 }));
    body.slippage_bps = attempt("slippage_bps", () => number(input("slippage_bps").value, "Slippage (bps)", { low: 0, high: 1000 }));
    body.initial_cash = attempt("initial_cash", () => number(input("initial_cash").value, "Initial cash", { low: 0, lowOpen: true }));
    body.rank_by = input("rank_by").value;
    const { grid, errors: gridErrors } = readGrid(strategy);
    Object.assign(errors, gridErrors);
    body.grid = grid;
    const train = attempt("train_bars", () => whole(input("train_bars").value, "Train bars", 2));
    const test = attempt("test_bars", () => whole(input("test_bars").value, "Test bars", 1));
    if ((train === null) !== (test === null) && !errors.train_bars && !errors.test_bars) {
      errors[test === null ? "test_bars" : "train_bars"] = "Walk-forward needs both Train bars and Test bars (or neither).";
    }
    body.walk_forward = train !== null && test !== null ? { train_bars: train, test_bars: test } : null;
    return { body: Object.keys(errors).length ? null : body, errors };
  }

  // The fields an API rejection is about (as the server's api_field_errors).
  function apiFieldErrors(error, params) {
    const found = {};
    const set = (name, message) => {
      if (!(name in found)) found[name] = message;
    };
    for (const item of error.errors || []) {
      const where = String(item.field || "");
      const inner = where.includes("'") ? where.split("'")[1] : where;
      const parts = inner.split(".").filter((p) => !/^\d+$/.test(p)).reverse();
      for (const part of parts) {
        if (part in FIELD_NAMES) {
          set(FIELD_NAMES[part], item.message || error.message);
          break;
        }
        if (params.includes(part)) {
          set(`p_${part}`, item.message || error.message);
          break;
        }
      }
    }
    const message = error.message || "";
    if (error.status === 404 && message.includes("symbol")) set("symbols", message);
    for (const match of message.matchAll(/parameter '([A-Za-z_][A-Za-z0-9_]*)'/g)) {
      if (params.includes(match[1])) set(`p_${match[1]}`, message);
    }
    if (message.includes("walk_forward.train_bars")) set("train_bars", message);
    if (message.includes("rank_by") && !(error.errors || []).length) set("rank_by", message);
    if (message.startsWith("no candles stored")) set("start", message);
    if (message.startsWith("end must be after start")) set("end", message);
    return found;
  }

  function showErrors(errors) {
    for (const field of form.querySelectorAll(".is-invalid")) setFieldError(field, null);
    let first = null;
    for (const [name, message] of Object.entries(errors)) {
      const field = input(name);
      if (!field || !field.id) continue;
      setFieldError(field, message);
      if (name === "train_bars" || name === "test_bars") form.querySelector("details").open = true;
      first = first || field;
    }
    return first;
  }

  function addBatchRow(created, body) {
    const tbody = document.querySelector("[data-batches-body]");
    if (!tbody) return;
    const empty = tbody.querySelector("[data-batches-empty]");
    if (empty) empty.remove();
    const now = new Date().toISOString().slice(0, 16).replace("T", " ");
    tbody.prepend(
      el(
        "tr",
        { "data-batch-row": created.batch_id },
        el("td", {}, el("a", { href: `/backtests/${created.batch_id}` }, `${now} UTC`)),
        el("td", {}, body.strategy),
        el("td", {}, `${body.symbols.join(", ")} · ${body.intervals.join(", ")}`),
        el("td", {}, el("span", { class: "badge text-bg-primary", "data-batch-state": "" }, "queued")),
        el("td", { class: "tt-num", "data-batch-done": "" }, `0/${created.jobs}`),
        el("td", { class: "tt-num" }, Number(created.backtests || 0).toLocaleString("en-US")),
      ),
    );
  }

  function startLive(created) {
    const panel = document.querySelector("[data-batch-live]");
    const results = document.querySelector("[data-live-results]");
    const tableElement = document.querySelector("[data-results-table]");
    if (!panel || !results || !tableElement) {
      location.assign(`/backtests/${created.batch_id}`);
      return;
    }
    if (live) live.stop();
    table = table || new ResultsTable(tableElement);
    table.reset(created.batch_id);
    panel.hidden = false;
    results.hidden = false;
    const link = results.querySelector("[data-batch-link]");
    if (link) link.href = `/backtests/${created.batch_id}`;
    live = new LiveBatch(panel, table, { batchId: created.batch_id, total: created.jobs, done: 0, state: "queued" });
    live.say(`Batch submitted: ${created.jobs} jobs, ${created.backtests} backtests.`);
    live.start();
    const heading = panel.querySelector("h2");
    if (heading) heading.focus({ preventScroll: true });
    panel.scrollIntoView({ behavior: "smooth", block: "start" });
  }

  async function submit(event) {
    if (event.submitter && event.submitter.name === "action") return; // no-JS strategy switch
    event.preventDefault();
    clearError("bt-submit");
    const { body, errors } = readForm();
    const first = showErrors(errors);
    if (!body) {
      showError("The batch was not submitted: please correct the fields marked below.", { replaceKey: "bt-submit" });
      if (first) first.focus();
      return;
    }
    runButton.disabled = true;
    try {
      const created = await api("/api/crypto/backtest/batch", { method: "POST", body });
      addBatchRow(created, body);
      startLive(created);
    } catch (error) {
      const params = specsOf(body.strategy).map((s) => s.name);
      const field = showErrors(apiFieldErrors(error, params));
      showError(`The batch was not submitted: ${error.message}`, { replaceKey: "bt-submit" });
      if (field) field.focus();
    } finally {
      runButton.disabled = false;
    }
  }

  // The new batch's row in "Your batches" follows the live view.
  const BADGES = { done: "text-bg-success", cancelled: "text-bg-dark", cancelling: "text-bg-dark" };
  const livePanel = document.querySelector("[data-batch-live]");
  if (livePanel) {
    livePanel.addEventListener("bt:progress", (event) => {
      const { batchId, done, total, state } = event.detail;
      const row = document.querySelector(`[data-batch-row="${batchId}"]`);
      if (!row) return;
      const badge = row.querySelector("[data-batch-state]");
      badge.textContent = state;
      badge.className = `badge ${BADGES[state] || (state === "running" ? "text-bg-primary" : "text-bg-secondary")}`;
      row.querySelector("[data-batch-done]").textContent = `${done}/${total}`;
    });
  }

  strategySelect.dataset.current = strategySelect.value;
  strategySelect.addEventListener("change", () => {
    rememberParams();
    showStrategy(strategySelect.value);
  });
  paramBox.addEventListener("input", countGrid);
  paramBox.addEventListener("focusout", (event) => {
    const field = event.target;
    if (!(field instanceof HTMLInputElement) || !field.dataset.param) return;
    // Leaving for the Run button: the submit shows the message, and a message put in
    // now would move the button from under the pointer before the click lands.
    if (event.relatedTarget === runButton) return;
    const spec = specsOf(strategySelect.value).find((s) => s.name === field.dataset.param);
    if (!spec) return;
    try {
      parseValues(field.value, spec);
      setFieldError(field, null);
    } catch (error) {
      if (error instanceof GridSyntaxError) setFieldError(field, error.message);
    }
  });
  input("symbols").addEventListener("input", () => {
    updateStored();
    countGrid();
  });
  input("interval").addEventListener("change", updateStored);
  form.addEventListener("submit", submit);
  countGrid();
}
