// /backtests/<id>: the Results table sortable in place, and the batch followed
// live while it runs (all its results then come from the stream, so the whole
// table is on the page and the server's page links go).

import { LiveBatch } from "./backtest_live.js";
import { ResultsTable } from "./backtest_results.js";

const tableElement = document.querySelector("[data-results-table]");
const panel = document.querySelector("[data-batch-live]");

if (tableElement && panel) {
  const table = new ResultsTable(tableElement);
  if (panel.dataset.running === "1") {
    table.takeOverAll();
    for (const links of document.querySelectorAll("[data-results-pages]")) links.hidden = true;
    new LiveBatch(panel, table, {
      batchId: panel.dataset.batchId,
      total: Number(panel.dataset.total || 0),
      done: Number(panel.dataset.done || 0),
      state: panel.dataset.state || "queued",
      onFinish: () => refreshWalkForward(),
    }).start();
  }
}

// Walk-forward windows are drawn by the server once the batch is over: take them
// from a fresh copy of this page (parsed, never executed).
async function refreshWalkForward() {
  if (!document.querySelector("[data-walk-forward-batch]")) return;
  try {
    const response = await fetch(location.pathname, { credentials: "same-origin" });
    if (!response.ok) return;
    const fresh = new DOMParser().parseFromString(await response.text(), "text/html");
    const target = document.querySelector("[data-walk-forward-slot]");
    if (!target) return;
    target.replaceChildren(...Array.from(fresh.querySelectorAll("[data-walk-forward-slot] > *")).map((node) => document.importNode(node, true)));
  } catch {
    // the windows show on the next visit
  }
}
