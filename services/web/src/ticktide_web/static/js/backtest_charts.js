// Chart pieces shared by the backtest pages (lightweight-charts 5): one look
// for every chart, candles loaded a page at a time, epoch seconds, and time
// scales kept in step.

import { ColorType, createChart } from "../vendor/lightweight-charts.mjs";
import { api } from "./api.js";

export const SERIES_COLORS = ["#0b5ed7", "#c2185b", "#198754", "#b35900"];
export const UP = "#146c43";
export const DOWN = "#b02a37";
const PAGE = 20000; // the prices API's most candles per request

export function toSeconds(iso) {
  return Math.floor(Date.parse(iso) / 1000);
}

export function makeChart(container, options = {}) {
  return createChart(container, {
    autoSize: true,
    layout: {
      background: { type: ColorType.Solid, color: "#ffffff" },
      textColor: "#212529",
      fontFamily: "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif",
      attributionLogo: false,
    },
    grid: { vertLines: { color: "#eef0f2" }, horzLines: { color: "#eef0f2" } },
    rightPriceScale: { borderColor: "#dee2e6" },
    timeScale: { borderColor: "#dee2e6", timeVisible: true, secondsVisible: false },
    localization: { locale: "en-US" },
    ...options,
  });
}

// Every candle of [start, end), in pages of the API's maximum.
export async function loadCandles(symbol, interval, start, end) {
  const candles = [];
  let from = start;
  for (;;) {
    const page = await api("/api/crypto/prices", { params: { symbol, interval, start: from, end, limit: PAGE } });
    const found = page.candles || [];
    candles.push(...found);
    if (found.length < PAGE) return { candles, source: page.source };
    from = new Date(Date.parse(found[found.length - 1].t) + 1000).toISOString();
  }
}

// Scrolling or zooming one chart moves the others to the same time range.
export function syncTimeRanges(charts) {
  let busy = false;
  for (const chart of charts) {
    chart.timeScale().subscribeVisibleTimeRangeChange((range) => {
      if (busy || !range) return;
      busy = true;
      for (const other of charts) {
        if (other === chart) continue;
        try {
          other.timeScale().setVisibleRange(range);
        } catch {
          // a chart without data yet
        }
      }
      busy = false;
    });
  }
}

// Equity points [[epoch s, value], ...] → line data, and the drawdown (in %) below each running peak.
export function equitySeries(points) {
  const equity = [];
  const drawdown = [];
  let peak = -Infinity;
  let last = -Infinity;
  for (const [time, value] of points) {
    if (time <= last) continue; // the chart needs strictly increasing times
    last = time;
    peak = Math.max(peak, value);
    equity.push({ time, value });
    drawdown.push({ time, value: peak > 0 ? (value / peak - 1) * 100 : 0 });
  }
  return { equity, drawdown };
}
