// One backtest result: its candles with a buy (▲) and a sell (▼) marker per
// trade, the equity curve and the drawdown, scrolled together. The figure
// carries the number of trades drawn (data-markers) and of marker shapes
// (data-marker-shapes, two per trade) for checks.

import { AreaSeries, CandlestickSeries, HistogramSeries, LineSeries, createSeriesMarkers } from "../vendor/lightweight-charts.mjs";
import { showError } from "./api.js";
import { DOWN, SERIES_COLORS, UP, equitySeries, loadCandles, makeChart, syncTimeRanges, toSeconds } from "./backtest_charts.js";

const MARKER_TEXT_LIMIT = 40; // above this many trades the markers carry no text

const dataBlock = document.getElementById("bt-chart-data");
const priceFigure = document.querySelector("[data-result-price-chart]");

function formatPercent(value) {
  return typeof value === "number" ? `${value >= 0 ? "+" : ""}${(value * 100).toFixed(2)} %` : "";
}

async function drawPrice(data, charts) {
  const status = priceFigure.querySelector("[data-chart-status]");
  const { symbol, interval, start, end } = priceFigure.dataset;
  const chart = makeChart(priceFigure.querySelector("[data-chart-canvas]"));
  charts.push(chart);
  const candles = chart.addSeries(CandlestickSeries, {
    upColor: UP, downColor: DOWN, borderVisible: false, wickUpColor: UP, wickDownColor: DOWN,
  });
  const volume = chart.addSeries(HistogramSeries, { priceScaleId: "", priceFormat: { type: "volume" }, color: "#adb5bd" });
  volume.priceScale().applyOptions({ scaleMargins: { top: 0.82, bottom: 0 } });
  let loaded;
  try {
    loaded = await loadCandles(symbol, interval, start, end);
  } catch (error) {
    status.textContent = `The candles could not be loaded: ${error.message}`;
    showError(`The price chart could not be loaded: ${error.message}`, { replaceKey: "bt-price" });
    priceFigure.dataset.markers = "0";
    return;
  }
  const bars = loaded.candles.map((c) => ({ time: toSeconds(c.t), open: c.o, high: c.h, low: c.l, close: c.c }));
  candles.setData(bars);
  volume.setData(loaded.candles.map((c) => ({ time: toSeconds(c.t), value: c.v, color: c.c >= c.o ? "#a3cfbb" : "#f1aeb5" })));
  const times = new Set(bars.map((b) => b.time));
  const withText = data.trades.length <= MARKER_TEXT_LIMIT;
  const markers = [];
  let drawn = 0;
  for (const [entryTime, , exitTime, , ret] of data.trades) {
    if (!times.has(entryTime) || !times.has(exitTime)) continue;
    drawn += 1;
    markers.push({ time: entryTime, position: "belowBar", color: UP, shape: "arrowUp", text: withText ? "Buy" : "" });
    markers.push({ time: exitTime, position: "aboveBar", color: DOWN, shape: "arrowDown", text: withText ? `Sell ${formatPercent(ret)}` : "" });
  }
  markers.sort((a, b) => a.time - b.time);
  createSeriesMarkers(candles, markers);
  chart.timeScale().fitContent();
  priceFigure.dataset.markers = String(drawn);
  priceFigure.dataset.markerShapes = String(markers.length);
  priceFigure.dataset.candles = String(bars.length);
  const simulated = loaded.source === "simulated" ? " (simulated data)" : "";
  status.textContent = `${symbol} ${interval}: ${bars.length.toLocaleString("en-US")} candles${simulated}, ${drawn.toLocaleString("en-US")} trades marked (▲ buy, ▼ sell).`;
}

function drawEquity(data, charts) {
  const { equity, drawdown } = equitySeries(data.equity || []);
  const equityFigure = document.querySelector("[data-equity-chart]");
  const drawdownFigure = document.querySelector("[data-drawdown-chart]");
  if (equityFigure) {
    const chart = makeChart(equityFigure.querySelector("[data-chart-canvas]"));
    const line = chart.addSeries(LineSeries, { color: SERIES_COLORS[0], lineWidth: 2 });
    line.setData(equity);
    line.createPriceLine({ price: Number(data.initial_cash), color: "#6c757d", lineWidth: 1, lineStyle: 2, title: "start" });
    chart.timeScale().fitContent();
    charts.push(chart);
  }
  if (drawdownFigure) {
    const chart = makeChart(drawdownFigure.querySelector("[data-chart-canvas]"));
    const area = chart.addSeries(AreaSeries, {
      lineColor: DOWN, topColor: "rgba(176, 42, 55, 0.05)", bottomColor: "rgba(176, 42, 55, 0.35)",
      invertFilledArea: true, lineWidth: 1, priceFormat: { type: "custom", formatter: (v) => `${v.toFixed(1)} %` },
    });
    area.setData(drawdown);
    chart.timeScale().fitContent();
    charts.push(chart);
  }
}

if (dataBlock && priceFigure) {
  const data = JSON.parse(dataBlock.textContent);
  const charts = [];
  drawEquity(data, charts);
  drawPrice(data, charts).then(() => syncTimeRanges(charts));
}
