// The candlestick chart of /crypto and /stocks (lightweight-charts): candles
// (or a line of closes where the exchange publishes no open) with volume on its
// own scale below. It draws exactly the page's stated [start, end), fetched in
// as few requests as the API allows and handed over in one setData, then loads
// earlier history when the user scrolls to the left edge (or presses "Load
// earlier history"), prepending without duplicates until the API has no more.
// The page's "N candles" / "N bars" text follows the number of bars drawn.
//
// Wiring: <figure data-price-chart data-kind="crypto|stocks" data-symbol
// data-interval data-start data-end data-first data-unit [data-series="line"]>
// holding a [data-chart-canvas]; the page's [data-bar-count], [data-chart-status]
// and [data-load-earlier] elements.

import {
  createChart,
  CandlestickSeries,
  HistogramSeries,
  LineSeries,
} from "../vendor/lightweight-charts.mjs";
import { api, showError, clearError } from "./api.js";

const MAX_PER_REQUEST = 20000; // the gateway's MAX_CANDLES_PER_REQUEST
const EARLIER_CANDLES = 5000; // one "load earlier" page of crypto candles
const EARLIER_DAYS = 365; // one "load earlier" page of stock bars
const STEP_SECONDS = { "1h": 3600, "4h": 14400, "1d": 86400 };
const DAY = 86400;
const EDGE_BARS = 10; // this close to the left edge, earlier history is fetched
const UP = "#15803d";
const DOWN = "#b91c1c";
const UP_VOLUME = "rgba(21, 128, 61, 0.45)";
const DOWN_VOLUME = "rgba(185, 28, 28, 0.45)";

const seconds = (iso) => Date.parse(iso) / 1000;
const isoOf = (time) => new Date(time * 1000).toISOString().replace(".000Z", "Z");
const shownTime = (time, withTime) =>
  isoOf(time).slice(0, withTime ? 16 : 10).replace("T", " ") + (withTime ? " UTC" : "");

function cryptoSource(root) {
  const { symbol, interval } = root.dataset;
  const step = STEP_SECONDS[interval];
  const first = root.dataset.first ? seconds(root.dataset.first) : null; // the first stored candle
  // format=columns: one array per field, `t` in epoch seconds (a third fewer bytes
  // than the candle objects, and the gateway's cached answers are stored that way too).
  const barsOf = (body) =>
    body.t.map((time, i) => ({
      time,
      open: body.o[i],
      high: body.h[i],
      low: body.l[i],
      close: body.c[i],
      volume: body.v[i],
    }));
  return {
    intraday: interval !== "1d",
    async range(start, end) {
      const windows = [];
      for (let from = start; from < end; from += step * MAX_PER_REQUEST) {
        windows.push([from, Math.min(from + step * MAX_PER_REQUEST, end)]);
      }
      const bodies = await Promise.all(
        windows.map(([from, to]) =>
          api("/api/crypto/prices", {
            params: { symbol, interval, start: isoOf(from), end: isoOf(to), format: "columns" },
          }),
        ),
      );
      return bodies.flatMap(barsOf);
    },
    async before(oldest) {
      if (first !== null && oldest <= first) return { bars: [], exhausted: true };
      // Without `start` the API answers the `limit` newest candles before `before`.
      const body = await api("/api/crypto/prices", {
        params: { symbol, interval, before: isoOf(oldest), limit: EARLIER_CANDLES, format: "columns" },
      });
      const bars = barsOf(body);
      return { bars, exhausted: bars.length < EARLIER_CANDLES };
    },
  };
}

function stocksSource(root) {
  const { symbol } = root.dataset;
  const first = root.dataset.first ? seconds(`${root.dataset.first}T00:00:00Z`) : null;
  const toBar = (p) => ({
    time: seconds(`${p.date}T00:00:00Z`),
    open: p.o,
    high: p.h,
    low: p.l,
    close: p.c,
    volume: p.v,
  });
  const ask = async (start, end) => {
    const body = await api("/api/stocks/prices", { params: { symbol, start: isoOf(start), end: isoOf(end) } });
    return body.prices.map(toBar);
  };
  return {
    intraday: false,
    range: ask,
    async before(oldest) {
      const start = oldest - EARLIER_DAYS * DAY;
      const bars = await ask(first !== null ? Math.max(start, first) : start, oldest);
      return { bars, exhausted: first === null || start <= first };
    },
  };
}

class PriceChart {
  constructor(root) {
    this.root = root;
    this.source = root.dataset.kind === "stocks" ? stocksSource(root) : cryptoSource(root);
    this.line = root.dataset.series === "line";
    this.unit = root.dataset.unit || "candles";
    this.bars = [];
    this.loading = false;
    this.exhausted = false;
    this.userMoved = false;
    this.count = document.querySelector("[data-bar-count]");
    this.status = document.querySelector("[data-chart-status]");
    this.button = document.querySelector("[data-load-earlier]");
  }

  async start() {
    const canvas = this.root.querySelector("[data-chart-canvas]");
    this.chart = createChart(canvas, {
      autoSize: true,
      layout: { background: { color: "#ffffff" }, textColor: "#212529", attributionLogo: false },
      grid: { vertLines: { color: "#eef0f2" }, horzLines: { color: "#eef0f2" } },
      timeScale: { timeVisible: this.source.intraday, secondsVisible: false, borderColor: "#ced4da" },
      rightPriceScale: { borderColor: "#ced4da" },
    });
    this.price = this.line
      ? this.chart.addSeries(LineSeries, { color: "#0b5ed7", lineWidth: 2, priceLineVisible: false })
      : this.chart.addSeries(CandlestickSeries, {
          upColor: UP,
          downColor: DOWN,
          borderVisible: false,
          wickUpColor: UP,
          wickDownColor: DOWN,
          priceLineVisible: false,
        });
    this.price.priceScale().applyOptions({ scaleMargins: { top: 0.05, bottom: 0.25 } });
    this.volume = this.chart.addSeries(HistogramSeries, {
      priceScaleId: "volume",
      priceFormat: { type: "volume" },
      lastValueVisible: false,
      priceLineVisible: false,
    });
    this.chart.priceScale("volume").applyOptions({ scaleMargins: { top: 0.8, bottom: 0 } });

    // Earlier history is fetched only once the user moves the chart, so what is
    // first drawn is exactly the page's stated range.
    for (const type of ["pointerdown", "wheel", "touchstart", "keydown"]) {
      canvas.addEventListener(type, () => (this.userMoved = true), { passive: true });
    }
    this.chart.timeScale().subscribeVisibleLogicalRangeChange((range) => {
      if (range && this.userMoved && range.from < EDGE_BARS) this.loadEarlier();
    });
    if (this.button) this.button.addEventListener("click", () => this.loadEarlier());

    this.say(`Loading ${this.unit}…`);
    const start = seconds(this.root.dataset.start);
    const end = seconds(this.root.dataset.end);
    let bars;
    try {
      bars = await this.source.range(start, end);
    } catch (error) {
      this.say("");
      showError(`The price chart could not load its ${this.unit}: ${error.message}`, { replaceKey: "price-chart" });
      return;
    }
    this.draw(unique(bars));
    this.chart.timeScale().fitContent();
    this.say("");
    if (this.button) this.button.hidden = false;
    this.root.dataset.ready = "true";
    this.root.dataset.readyAt = String(Math.round(performance.now())); // for bench/web
  }

  draw(bars) {
    this.bars = bars;
    const prices = new Array(bars.length);
    const volumes = new Array(bars.length);
    let previousClose = null;
    for (let i = 0; i < bars.length; i += 1) {
      const bar = bars[i];
      // Where the open is unknown, the bar opens at the previous close.
      const open = bar.open ?? previousClose ?? bar.close;
      previousClose = bar.close;
      prices[i] = this.line
        ? { time: bar.time, value: bar.close }
        : {
            time: bar.time,
            open,
            high: bar.high ?? Math.max(open, bar.close),
            low: bar.low ?? Math.min(open, bar.close),
            close: bar.close,
          };
      volumes[i] = { time: bar.time, value: bar.volume ?? 0, color: bar.close >= open ? UP_VOLUME : DOWN_VOLUME };
    }
    this.price.setData(prices);
    this.volume.setData(volumes);
    if (this.count) this.count.textContent = `${bars.length} ${this.unit}`;
    this.root.dataset.bars = String(bars.length);
  }

  async loadEarlier() {
    if (this.loading || this.exhausted || this.bars.length === 0) return;
    this.loading = true;
    if (this.button) this.button.disabled = true;
    this.say(`Loading earlier ${this.unit}…`);
    try {
      let added = [];
      // A stock's history may hold a year without bars: keep asking until some arrive.
      for (let page = 0; page < 50 && added.length === 0 && !this.exhausted; page += 1) {
        const oldest = this.bars[0].time;
        const { bars, exhausted } = await this.source.before(oldest);
        added = unique(bars.filter((bar) => bar.time < oldest));
        this.exhausted = exhausted;
        if (added.length) this.prepend(added);
      }
      clearError("price-chart");
      if (this.exhausted) this.say(`No earlier ${this.unit} stored; the chart starts at ${shownTime(this.bars[0].time, this.source.intraday)}.`);
      else this.say(`Loaded ${added.length} earlier ${this.unit}, back to ${shownTime(this.bars[0].time, this.source.intraday)}.`);
    } catch (error) {
      this.say("");
      showError(`Earlier history could not load: ${error.message}`, { replaceKey: "price-chart" });
    } finally {
      this.loading = false;
      if (this.button) {
        this.button.disabled = this.exhausted;
        if (this.exhausted) this.button.textContent = "No earlier history stored";
      }
    }
  }

  prepend(added) {
    const scale = this.chart.timeScale();
    const visible = scale.getVisibleLogicalRange();
    this.draw(added.concat(this.bars));
    // Keep the bars the user was looking at where they were.
    if (visible) scale.setVisibleLogicalRange({ from: visible.from + added.length, to: visible.to + added.length });
  }

  say(text) {
    if (this.status) this.status.textContent = text;
  }
}

// Bars ordered by time, one per time (the API's order; pages never overlap, but be sure).
function unique(bars) {
  const seen = new Set();
  const kept = [];
  for (const bar of bars) {
    if (seen.has(bar.time)) continue;
    seen.add(bar.time);
    kept.push(bar);
  }
  for (let i = 1; i < kept.length; i += 1) {
    if (kept[i].time < kept[i - 1].time) return kept.sort((a, b) => a.time - b.time);
  }
  return kept;
}

for (const root of document.querySelectorAll("[data-price-chart]")) {
  new PriceChart(root).start();
}
