// Up to four results' equity curves overlaid on one chart (colours as the legend's swatches).

import { LineSeries } from "../vendor/lightweight-charts.mjs";
import { SERIES_COLORS, equitySeries, makeChart } from "./backtest_charts.js";

const dataBlock = document.getElementById("bt-compare-data");
const figure = document.querySelector("[data-compare-chart]");

if (dataBlock && figure) {
  const series = JSON.parse(dataBlock.textContent);
  const chart = makeChart(figure.querySelector("[data-chart-canvas]"));
  series.forEach((item, index) => {
    const line = chart.addSeries(LineSeries, { color: SERIES_COLORS[index % SERIES_COLORS.length], lineWidth: 2, title: `#${index + 1}` });
    line.setData(equitySeries(item.equity || []).equity);
  });
  chart.timeScale().fitContent();
  figure.dataset.series = String(series.length);
}
