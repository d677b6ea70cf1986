// The backtest form's grid syntax, mirroring ticktide_web/grid_syntax.py (the
// server checks the same rules for the no-JavaScript path): a number `10`, a
// list `5,10,15`, a range `start:stop:step` (stop included when a step lands
// on it), or a list mixing them; each value checked against the parameter's
// JSON Schema. Errors are thrown as GridSyntaxError with the same messages.

export const MAX_VALUES = 1000;
const NUMBER = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;
const INTEGER = /^[+-]?\d+$/;
const SYMBOL = /^[A-Z0-9]{2,20}$/;
const EPSILON = 1e-9;
const HINT = "a number (10), a list (5,10,15) or a range start:stop:step (5:50:5)";

export class GridSyntaxError extends Error {}

function show(value) {
  const number = Number(value);
  if (Number.isInteger(number) && Math.abs(number) < 1e15) return String(number);
  return String(number);
}

function bound(value) {
  return typeof value === "number" && Number.isFinite(value) ? value : null;
}

// One parameter of a strategy's JSON Schema (`parameters.properties[name]`).
export function paramSpec(name, schema) {
  let kind = schema.type;
  if (kind === undefined && Array.isArray(schema.anyOf)) {
    const kinds = schema.anyOf.map((s) => s && s.type);
    kind = kinds.includes("integer") && !kinds.includes("number") ? "integer" : "number";
  }
  return {
    name,
    integer: kind === "integer",
    minimum: bound(schema.minimum),
    maximum: bound(schema.maximum),
    exclusiveMinimum: bound(schema.exclusiveMinimum),
    exclusiveMaximum: bound(schema.exclusiveMaximum),
    default: schema.default ?? null,
    description: String(schema.description || ""),
  };
}

export function paramSpecs(parameters) {
  return Object.entries((parameters && parameters.properties) || {}).map(([name, schema]) => paramSpec(name, schema || {}));
}

export function defaultText(spec) {
  return spec.default === null ? "" : formatValues([spec.default]);
}

function boundsText(spec) {
  const parts = [spec.integer ? "whole number" : "number"];
  let low = "";
  let high = "";
  if (spec.minimum !== null) low = `from ${show(spec.minimum)}`;
  else if (spec.exclusiveMinimum !== null) low = `above ${show(spec.exclusiveMinimum)}`;
  if (spec.maximum !== null) high = `up to ${show(spec.maximum)}`;
  else if (spec.exclusiveMaximum !== null) high = `below ${show(spec.exclusiveMaximum)}`;
  if (low || high) parts.push([low, high].filter(Boolean).join(" "));
  return parts.join(", ");
}

export function helpText(spec) {
  const bounds = boundsText(spec);
  let text = spec.description ? `${spec.description[0].toUpperCase()}${spec.description.slice(1)}. ` : "";
  text += spec.description ? `${bounds[0].toUpperCase()}${bounds.slice(1)}` : bounds;
  if (spec.default !== null) text += `; default ${defaultText(spec)}`;
  return `${text}. Type a number (10), a list (5,10,15) or a range start:stop:step (5:50:5; the stop is included).`;
}

function check(spec, value) {
  if (spec.integer) {
    if (!Number.isInteger(value)) throw new GridSyntaxError(`${spec.name} takes whole numbers; ${show(value)} is not one`);
  }
  const limits = [
    [spec.minimum, (b) => value < b, "at least"],
    [spec.maximum, (b) => value > b, "at most"],
    [spec.exclusiveMinimum, (b) => value <= b, "greater than"],
    [spec.exclusiveMaximum, (b) => value >= b, "less than"],
  ];
  for (const [limit, broken, words] of limits) {
    if (limit !== null && broken(limit)) {
      throw new GridSyntaxError(`${spec.name} must be ${words} ${show(limit)}; got ${show(value)}`);
    }
  }
  return value;
}

function parseNumber(text, field) {
  const token = text.trim();
  if (!NUMBER.test(token)) throw new GridSyntaxError(`${field}: '${token}' is not a number; type ${HINT}`);
  const value = Number(token);
  if (!Number.isFinite(value)) throw new GridSyntaxError(`${field}: '${token}' is too large`);
  return { value, integer: INTEGER.test(token) };
}

function tidy(value) {
  const rounded = Math.round(value * 1e10) / 1e10;
  return rounded === 0 ? 0 : rounded;
}

function parseRange(item, field, room) {
  const parts = item.split(":");
  if (parts.length !== 3) {
    throw new GridSyntaxError(`${field}: '${item}' is not a range; a range is start:stop:step, e.g. 5:50:5`);
  }
  const [start, stop, step] = parts.map((p) => parseNumber(p, field));
  if (step.value <= 0) throw new GridSyntaxError(`${field}: the step of '${item}' must be positive`);
  if (stop.value < start.value) {
    throw new GridSyntaxError(`${field}: in '${item}' the stop ${show(stop.value)} is below the start`);
  }
  const count = Math.floor((stop.value - start.value) / step.value + EPSILON) + 1;
  if (count > room) throw new GridSyntaxError(`${field}: '${item}' gives ${count} values; at most ${MAX_VALUES} per parameter`);
  const values = [];
  const whole = start.integer && stop.integer && step.integer;
  for (let i = 0; i < count; i += 1) values.push(whole ? start.value + i * step.value : tidy(start.value + i * step.value));
  return values;
}

// The values a field's text stands for, in order, without repeats.
export function parseValues(text, spec = null, { field = "", maxValues = MAX_VALUES } = {}) {
  const name = field || (spec ? spec.name : "value");
  const raw = (text || "").trim();
  if (!raw) throw new GridSyntaxError(`${name}: enter ${HINT}`);
  const values = [];
  for (const piece of raw.split(",")) {
    const item = piece.trim();
    if (!item) throw new GridSyntaxError(`${name}: a list needs a value between every two commas`);
    const room = Math.max(maxValues - values.length, 0);
    const found = item.includes(":") ? parseRange(item, name, room) : [parseNumber(item, name).value];
    for (const value of found) {
      const checked = spec ? check(spec, value) : value;
      if (!values.includes(checked)) values.push(checked);
    }
    if (values.length > maxValues) throw new GridSyntaxError(`${name}: more than ${maxValues} values; at most ${maxValues}`);
  }
  return values;
}

export function formatValues(values) {
  return values.map((v) => (typeof v === "number" ? show(v) : String(v))).join(",");
}

export function parseSymbols(text, { limit = 20 } = {}) {
  const found = [];
  for (const token of (text || "").trim().toUpperCase().split(/[\s,]+/)) {
    if (!token) continue;
    if (!SYMBOL.test(token)) throw new GridSyntaxError(`'${token}' is not a trading pair like BTCUSDT`);
    if (!found.includes(token)) found.push(token);
  }
  if (!found.length) throw new GridSyntaxError("enter a trading pair, e.g. BTCUSDT (several: BTCUSDT,ETHUSDT)");
  if (found.length > limit) throw new GridSyntaxError(`at most ${limit} symbols in one batch; got ${found.length}`);
  return found;
}

export function combinations(grid) {
  return Object.values(grid).reduce((n, values) => n * values.length, 1);
}
