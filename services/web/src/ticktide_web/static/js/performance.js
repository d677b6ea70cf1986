// /performance: the request, error, latency and throughput charts (uPlot),
// drawn from the page's JSON data block; the same figures are in the tables
// below each chart, so the page says everything without this module.
import uPlot from "../vendor/uplot.mjs";
import { showError } from "./api.js";

const COLORS = {
  rate: "#0b5ed7",
  errors: "#b02a37",
  clientErrors: "#997404",
  p95: "#6f42c1",
  jobs: "#d9480f",
  crypto: "#0b5ed7",
  stocks: "#146c43",
  weather: "#d63384",
};

function line(label, stroke, value, { sparse = false } = {}) {
  return {
    label,
    stroke,
    width: 2,
    spanGaps: false,
    // Error rates and latencies have no value in a bucket without requests: show each point.
    points: sparse ? { show: true, size: 5, fill: stroke } : undefined,
    value: (u, v) => (v === null || v === undefined ? "—" : value(v)),
  };
}

// Times in UTC, 24 h: "22:15", or "12-01 22:00" when the chart spans days.
const iso = (ts) => new Date(ts * 1000).toISOString();
function spansDays(u) {
  const xs = u.data[0];
  return xs.length > 1 && xs[xs.length - 1] - xs[0] > 36 * 3600;
}
function timeLabels(u, splits) {
  const days = spansDays(u);
  return splits.map((ts) => (days ? iso(ts).slice(5, 16).replace("T", " ") : iso(ts).slice(11, 16)));
}

const fixed = (digits, unit = "") => (v) => `${v.toFixed(digits)}${unit}`;

function chartSpecs(data) {
  const ingestNames = Object.keys(data.ingest || {});
  return {
    rate: { series: [line("requests/min", COLORS.rate, fixed(2))], columns: [data.rate], yLabel: "/min" },
    errors: {
      series: [
        line("5xx %", COLORS.errors, fixed(2, " %"), { sparse: true }),
        line("4xx %", COLORS.clientErrors, fixed(2, " %"), { sparse: true }),
      ],
      columns: [data.errors, data.clientErrors],
      yLabel: "%",
    },
    latency: {
      series: [line("p95 ms", COLORS.p95, fixed(1, " ms"), { sparse: true })],
      columns: [data.p95],
      yLabel: "ms",
    },
    ingest: {
      series: ingestNames.map((name) => line(`${name} rows`, COLORS[name] || "#495057", fixed(0))),
      columns: ingestNames.map((name) => data.ingest[name]),
      yLabel: "rows",
    },
    jobs: { series: [line("jobs", COLORS.jobs, fixed(0))], columns: [data.jobs], yLabel: "jobs" },
  };
}

function draw(target, spec, xs) {
  const width = Math.max(target.clientWidth, 200);
  const options = {
    width,
    height: 180,
    tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), "Etc/UTC"),
    scales: { x: { time: true }, y: { range: (u, min, max) => [0, Math.max(max || 0, 1) * 1.1] } },
    series: [{ label: "UTC", value: (u, ts) => (ts === null || ts === undefined ? "—" : iso(ts).slice(0, 16).replace("T", " ")) }, ...spec.series],
    axes: [
      { stroke: "#495057", grid: { stroke: "#e9ecef" }, values: timeLabels, space: (u) => (spansDays(u) ? 100 : 60) },
      { stroke: "#495057", grid: { stroke: "#e9ecef" }, size: 56, label: spec.yLabel, labelSize: 18 },
    ],
    cursor: { drag: { x: false, y: false } },
  };
  const chart = new uPlot(options, [xs, ...spec.columns], target);
  new ResizeObserver(() => {
    const next = Math.max(target.clientWidth, 200);
    if (next !== chart.width) chart.setSize({ width: next, height: 180 });
  }).observe(target);
  return chart;
}

function main() {
  const block = document.getElementById("performance-data");
  if (!block) return;
  let data;
  try {
    data = JSON.parse(block.textContent);
  } catch {
    showError("The chart data could not be read; the tables show the same figures.");
    return;
  }
  const specs = chartSpecs(data);
  for (const target of document.querySelectorAll("[data-perf-chart]")) {
    const spec = specs[target.dataset.perfChart];
    if (!spec || spec.series.length === 0) continue;
    try {
      draw(target, spec, data.t);
    } catch (error) {
      showError(`A chart could not be drawn: ${error.message}`, { replaceKey: "perf-chart" });
    }
  }
}

main();
