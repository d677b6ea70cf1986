// The weather history chart of /weather (uPlot): temperature above (hourly,
// or the daily minimum, mean and maximum), and below it the series chosen in
// "Lower chart" (humidity, pressure or wind speed). Times are shown in UTC.
// It fetches the page's stated [start, end) itself; the page's "N observations"
// text follows what the chart holds.
//
// Wiring: <figure data-weather-chart data-location data-start data-end
// data-aggregate="hourly|daily"> holding [data-weather-temperature] and
// [data-weather-second]; the page's [data-weather-second-select],
// [data-observation-count] and [data-chart-status].

import uPlot from "../vendor/uplot.mjs";
import { api, showError } from "./api.js";

const SECOND = {
  humidity: { label: "Humidity (%)", hourly: "humidity", daily: "humidity_mean", color: "#0b7285" },
  pressure: { label: "Pressure (hPa)", hourly: "pressure", daily: "pressure_mean", color: "#6f42c1" },
  wind_speed: { label: "Wind speed (m/s)", hourly: "wind_speed", daily: "wind_speed_mean", color: "#495057" },
};
const utc = (seconds) => uPlot.tzDate(new Date(seconds * 1000), "Etc/UTC");

function sized(target, height) {
  return { width: Math.max(target.clientWidth, 280), height };
}

function plot(target, height, series, data, yLabel) {
  const opts = {
    ...sized(target, height),
    tzDate: utc,
    scales: { x: { time: true } },
    series: [{ label: "Time (UTC)" }, ...series],
    axes: [{}, { label: yLabel, size: 60 }],
    cursor: { drag: { x: true, y: false } },
  };
  const chart = new uPlot(opts, data, target);
  new ResizeObserver(() => chart.setSize(sized(target, height))).observe(target);
  return chart;
}

async function start(root) {
  const { location, start, end, aggregate } = root.dataset;
  const daily = aggregate === "daily";
  const status = document.querySelector("[data-chart-status]");
  const count = document.querySelector("[data-observation-count]");
  if (status) status.textContent = "Loading observations…";
  let body;
  try {
    body = await api("/api/weather/historic", {
      params: { location, start, end, aggregate: daily ? "daily" : undefined },
    });
  } catch (error) {
    if (status) status.textContent = "";
    showError(`The weather chart could not load: ${error.message}`, { replaceKey: "weather-chart" });
    return;
  }
  const rows = daily ? body.days : body.observations;
  const times = rows.map((row) => Date.parse(daily ? `${row.date}T00:00:00Z` : row.t) / 1000);
  const column = (key) => rows.map((row) => row[key] ?? null);

  const temperatures = daily
    ? [
        { label: "Min °C", stroke: "#1c7ed6", width: 1.5 },
        { label: "Mean °C", stroke: "#212529", width: 2 },
        { label: "Max °C", stroke: "#c92a2a", width: 1.5 },
      ]
    : [{ label: "Temperature °C", stroke: "#c92a2a", width: 1.5 }];
  const temperatureData = daily
    ? [times, column("temperature_min"), column("temperature_mean"), column("temperature_max")]
    : [times, column("temperature")];
  plot(root.querySelector("[data-weather-temperature]"), 300, temperatures, temperatureData, "°C");

  const lower = root.querySelector("[data-weather-second]");
  const select = document.querySelector("[data-weather-second-select]");
  let second = null;
  const drawSecond = (key) => {
    const spec = SECOND[key] || SECOND.humidity;
    if (second) second.destroy();
    lower.replaceChildren();
    second = plot(
      lower,
      180,
      [{ label: spec.label, stroke: spec.color, width: 1.5 }],
      [times, column(daily ? spec.daily : spec.hourly)],
      spec.label,
    );
  };
  drawSecond(select ? select.value : "humidity");
  if (select) {
    select.addEventListener("change", () => drawSecond(select.value));
    const tools = document.querySelector("[data-weather-second-tools]");
    if (tools) tools.hidden = false;
  }

  const observations = daily ? rows.reduce((sum, row) => sum + (row.hours || 0), 0) : rows.length;
  if (count) count.textContent = `${observations} observations`;
  if (status) status.textContent = "";
  root.dataset.points = String(rows.length);
  root.dataset.ready = "true";
}

for (const root of document.querySelectorAll("[data-weather-chart]")) start(root);
