// Follows an admin's backfill job on /crypto and /stocks: asks the job's
// status every second until it is done or failed, and says so in the page's
// status message (with a link to see the new data once done).

import { api } from "./api.js";

const POLL_MS = 1000;
const OVER = new Set(["done", "failed"]);

function progressText(job) {
  if (job.candles_expected) return `${job.candles_stored || 0} of ${job.candles_expected} stored`;
  if (job.candles_stored) return `${job.candles_stored} stored`;
  return "";
}

async function follow(box) {
  const state = box.querySelector("[data-job-state]");
  const progress = box.querySelector("[data-job-progress]");
  const failure = box.querySelector("[data-job-error]");
  const reload = box.querySelector("[data-job-reload]");
  let failures = 0;
  while (!OVER.has(box.dataset.jobStatus)) {
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    let job;
    try {
      job = await api(`/api/admin/ingest/jobs/${encodeURIComponent(box.dataset.jobId)}`);
      failures = 0;
    } catch (error) {
      failures += 1;
      if (failures >= 5) {
        failure.textContent = ` (its status could not be read: ${error.message})`;
        return;
      }
      continue;
    }
    box.dataset.jobStatus = job.status;
    state.textContent = job.status;
    progress.textContent = progressText(job);
    failure.textContent = job.error ? `: ${job.error}` : "";
    if (job.status === "done") {
      box.classList.replace("alert-info", "alert-success");
      if (reload) reload.hidden = false;
    } else if (job.status === "failed") {
      box.classList.replace("alert-info", "alert-danger");
      box.setAttribute("role", "alert");
    }
  }
}

for (const box of document.querySelectorAll("[data-ingest-job]")) follow(box);
