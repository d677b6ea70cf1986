// The `Results` table of a batch: adopts the server-rendered rows, adds live
// ones (each result exactly once, keyed by job, series and parameters), sorts
// by the header buttons (in place when every row is on the page; otherwise the
// buttons submit the server's sort form), and keeps the Compare ticks to four.

import { el } from "./api.js";
import { LOWER_IS_BETTER, METRICS, TEXT_COLUMNS, canonical, metricText, paramsText, resultKey } from "./backtest_format.js";

const DISPLAY_LIMIT = 5000; // rows in the DOM; the count shows them all
const RENDER_DELAY_MS = 120;
export const COMPARE_MAX = 4;

function bestOrder(column) {
  return TEXT_COLUMNS.includes(column) || LOWER_IS_BETTER.has(column) ? "asc" : "desc";
}

function compareValues(a, b) {
  if (typeof a === "number" && typeof b === "number") return a - b;
  return String(a).localeCompare(String(b));
}

export function resultLink(batchId, result) {
  const query = new URLSearchParams({
    job: String(result.job_id),
    symbol: result.symbol,
    interval: result.interval,
    params: canonical(result.params || {}),
  });
  return `/backtests/${batchId}/result?${query}`;
}

export class ResultsTable {
  constructor(table) {
    this.table = table;
    this.body = table.querySelector("[data-results-body]");
    this.sortColumn = table.dataset.sort || "sharpe";
    this.order = table.dataset.order || bestOrder(this.sortColumn);
    this.allRows = table.dataset.allRows === "1";
    this.offset = Number(table.dataset.offset || 0);
    this.batchId = table.dataset.batchId || "";
    this.rows = new Map();
    this.serial = 0;
    this.timer = null;
    this.count = document.querySelector("[data-result-count]");
    this.empty = document.querySelector("[data-results-empty]");
    this.hint = document.querySelector("[data-compare-hint]");
    for (const tr of Array.from(this.body.rows)) {
      const result = {
        job_id: Number(tr.dataset.job),
        symbol: tr.dataset.symbol,
        interval: tr.dataset.interval,
        params: JSON.parse(tr.dataset.params || "{}"),
        metrics: JSON.parse(tr.dataset.metrics || "{}"),
      };
      this.rows.set(resultKey(result), { result, tr, order: this.serial++ });
    }
    for (const button of table.querySelectorAll("button.bt-sort")) {
      button.addEventListener("click", (event) => {
        if (!this.allRows) return; // the server sorts what is not all on the page
        event.preventDefault();
        this.sortBy(button.dataset.column);
      });
    }
    this.table.addEventListener("change", (event) => this.limitTicks(event));
    const compare = document.querySelector("[data-compare-button]");
    if (compare) {
      compare.addEventListener("click", (event) => {
        const ticked = this.ticked().length;
        if (ticked < 2) {
          event.preventDefault();
          this.say(`Tick at least two results to compare (ticked: ${ticked}).`);
        }
      });
    }
  }

  get size() {
    return this.rows.size;
  }

  has(key) {
    return this.rows.has(key);
  }

  // A new batch in the same table (the form's live view).
  reset(batchId) {
    this.batchId = batchId;
    this.rows.clear();
    this.body.replaceChildren();
    this.allRows = true;
    this.offset = 0;
    this.table.dataset.batchId = batchId;
    const sortForm = document.querySelector("[data-sort-form]");
    if (sortForm) sortForm.action = `/backtests/${batchId}`;
    const compareForm = document.querySelector("[data-compare-form]");
    if (compareForm) compareForm.action = `/backtests/${batchId}/compare`;
    this.updateCount();
  }

  // Every result the page holds from now on is sortable in place.
  takeOverAll() {
    this.allRows = true;
    this.offset = 0;
  }

  // Adds a result unless it is already shown; true when it was new.
  add(result) {
    const key = resultKey(result);
    if (this.rows.has(key)) return false;
    this.rows.set(key, { result, tr: this.rowFor(result), order: this.serial++ });
    this.schedule();
    return true;
  }

  rowFor(result) {
    const id = `cmp-live-${this.serial}`;
    const walk = (result.params || {}).walk_forward;
    const box = el("input", {
      class: "form-check-input",
      type: "checkbox",
      name: "r",
      value: resultKey(result),
      form: "results-compare",
      id,
      disabled: walk === "out_of_sample",
    });
    const cells = [
      el("td", {}, box, el("label", { class: "visually-hidden", for: id, "data-compare-label": "" }, "Compare result")),
      el("td", { class: "tt-num", "data-rank": "" }, ""),
      el("td", {}, result.symbol),
      el("td", {}, result.interval),
      el("td", { class: "bt-params" }, paramsText(result.params)),
    ];
    for (const name of METRICS) {
      const value = (result.metrics || {})[name];
      let tone = "";
      if ((name === "total_return" || name === "cagr") && typeof value === "number") {
        tone = value > 0 ? " tt-up" : value < 0 ? " tt-down" : "";
      }
      cells.push(el("td", { class: `tt-num${tone}` }, metricText(name, value)));
    }
    cells.push(
      el("td", {}, el("a", { href: resultLink(this.batchId, result) }, "View", el("span", { class: "visually-hidden", "data-view-label": "" }, " result"))),
    );
    return el(
      "tr",
      {
        "data-job": String(result.job_id),
        "data-symbol": result.symbol,
        "data-interval": result.interval,
        "data-params": canonical(result.params || {}),
      },
      ...cells,
    );
  }

  sortBy(column, order) {
    this.order = order || (column === this.sortColumn ? (this.order === "asc" ? "desc" : "asc") : bestOrder(column));
    this.sortColumn = column;
    this.table.dataset.sort = column;
    this.table.dataset.order = this.order;
    for (const button of this.table.querySelectorAll("button.bt-sort")) {
      const th = button.closest("th");
      if (button.dataset.column === column) {
        th.setAttribute("aria-sort", this.order === "asc" ? "ascending" : "descending");
      } else {
        th.removeAttribute("aria-sort");
      }
    }
    this.render();
  }

  sortValue(entry) {
    const { result } = entry;
    if (this.sortColumn === "symbol" || this.sortColumn === "interval") return result[this.sortColumn] || "";
    if (this.sortColumn === "params") return Object.values(result.params || {});
    const value = (result.metrics || {})[this.sortColumn];
    return typeof value === "number" && Number.isFinite(value) ? value : null;
  }

  sorted() {
    const direction = this.order === "asc" ? 1 : -1;
    const entries = Array.from(this.rows.values()).map((entry) => [this.sortValue(entry), entry]);
    entries.sort(([a, x], [b, y]) => {
      if (a === null || b === null) {
        if (a === null && b === null) return x.order - y.order;
        return a === null ? 1 : -1; // missing values last either way
      }
      let diff;
      if (Array.isArray(a)) {
        diff = 0;
        for (let i = 0; i < Math.max(a.length, b.length) && diff === 0; i += 1) diff = compareValues(a[i] ?? "", b[i] ?? "");
      } else {
        diff = compareValues(a, b);
      }
      return diff * direction || x.order - y.order;
    });
    return entries.map(([, entry]) => entry);
  }

  schedule() {
    if (this.timer !== null) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.render();
    }, RENDER_DELAY_MS);
  }

  render() {
    if (this.timer !== null) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    const shown = this.sorted().slice(0, DISPLAY_LIMIT);
    shown.forEach((entry, index) => {
      const n = this.offset + index + 1;
      const rank = entry.tr.querySelector("[data-rank]");
      if (rank) rank.textContent = String(n);
      const label = entry.tr.querySelector("label");
      if (label) label.textContent = `Compare result ${n}`;
      const view = entry.tr.querySelector("[data-view-label]");
      if (view) view.textContent = ` result ${n}`;
    });
    this.body.replaceChildren(...shown.map((entry) => entry.tr));
    this.updateCount();
  }

  updateCount() {
    if (this.count) this.count.textContent = this.rows.size.toLocaleString("en-US");
    this.table.dataset.results = String(this.rows.size);
    if (this.empty) this.empty.hidden = this.rows.size > 0;
  }

  ticked() {
    return Array.from(document.querySelectorAll('input[name="r"][form="results-compare"]:checked'));
  }

  limitTicks(event) {
    const box = event.target;
    if (!(box instanceof HTMLInputElement) || box.name !== "r") return;
    const ticked = this.ticked();
    if (box.checked && ticked.length > COMPARE_MAX) {
      box.checked = false;
      this.say(`Compare up to ${COMPARE_MAX} results: untick one first.`);
      return;
    }
    this.say(ticked.length ? `${ticked.length} of up to ${COMPARE_MAX} results ticked.` : "Tick two to four results to compare them side by side.");
  }

  say(text) {
    if (this.hint) this.hint.textContent = text;
  }
}
