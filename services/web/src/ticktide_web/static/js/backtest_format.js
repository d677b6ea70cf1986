// How the backtest pages show metrics and parameters, mirroring
// pages/backtests.py (metric_text, params_text, canonical).

export const METRICS = [
  "total_return", "cagr", "sharpe", "sortino", "max_drawdown",
  "win_rate", "profit_factor", "trades", "exposure", "final_equity",
];
export const TEXT_COLUMNS = ["symbol", "interval", "params"];
export const LOWER_IS_BETTER = new Set(["max_drawdown", "max_drawdown_duration"]);
const PERCENT = new Set(["total_return", "cagr", "max_drawdown", "win_rate", "exposure"]);
const COUNTS = new Set(["trades", "max_drawdown_duration"]);

const grouped = (value, digits) =>
  Number(value).toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });

export function metricText(name, value) {
  if (value === null || value === undefined || typeof value === "boolean") return "—";
  const number = Number(value);
  if (!Number.isFinite(number)) return "—";
  if (PERCENT.has(name)) return `${(number * 100).toFixed(2)} %`;
  if (COUNTS.has(name)) return grouped(Math.trunc(number), 0);
  if (name === "final_equity" || name === "expectancy") return grouped(number, 2);
  return number.toFixed(2);
}

function valueText(v) {
  return typeof v === "number" ? String(v) : String(v);
}

export function paramsText(params) {
  params = params || {};
  if (params.walk_forward === "out_of_sample") {
    return `walk-forward out-of-sample (${(params.windows || []).length} windows)`;
  }
  const shown = Object.entries(params)
    .filter(([k]) => k !== "walk_forward")
    .map(([k, v]) => `${k}=${valueText(v)}`)
    .join(", ");
  if (params.walk_forward === "in_sample") return `in-sample best: ${shown}`;
  return shown || "defaults";
}

// JSON with sorted keys: one text per parameter set, whoever wrote it.
export function canonical(value) {
  if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
  if (value && typeof value === "object") {
    return `{${Object.keys(value).sort().map((k) => `${JSON.stringify(k)}:${canonical(value[k])}`).join(",")}}`;
  }
  return JSON.stringify(value);
}

export function resultKey(result) {
  return `${result.job_id}|${result.symbol}|${result.interval}|${canonical(result.params || {})}`;
}

export function durationText(seconds) {
  seconds = Math.max(Math.round(seconds), 0);
  if (seconds < 90) return `${seconds} s`;
  if (seconds < 5400) return `${Math.round(seconds / 60)} min`;
  if (seconds < 172800) return `${(seconds / 3600).toFixed(1)} h`;
  return `${(seconds / 86400).toFixed(1)} days`;
}
