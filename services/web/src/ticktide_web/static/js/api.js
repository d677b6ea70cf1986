// The browser's client of the gateway's API: same-origin fetch with the
// session cookie, the CSRF token of the page (<meta name="csrf-token">) on
// state-changing calls, JSON in and out, and API errors turned into messages.

export class ApiError extends Error {
  constructor(status, message, errors = []) {
    super(message);
    this.status = status;
    this.errors = errors;
  }
}

function csrfToken() {
  const meta = document.querySelector('meta[name="csrf-token"]');
  return meta ? meta.content : "";
}

function describe(status, body) {
  if (body && typeof body.detail === "string") return body.detail;
  if (body && Array.isArray(body.detail)) {
    return body.detail.map((d) => `${(d.loc || []).slice(1).join(".")}: ${d.msg}`).join("; ");
  }
  if (status === 0) return "The network is unreachable; check your connection.";
  return `The server answered ${status}.`;
}

export async function api(path, { method = "GET", body, params, signal } = {}) {
  let url = path;
  if (params) {
    const query = new URLSearchParams();
    for (const [key, value] of Object.entries(params)) {
      if (value !== undefined && value !== null && value !== "") query.set(key, value);
    }
    const text = query.toString();
    if (text) url += (url.includes("?") ? "&" : "?") + text;
  }
  const headers = { Accept: "application/json" };
  if (method !== "GET" && method !== "HEAD") headers["X-CSRF-Token"] = csrfToken();
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch(url, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "same-origin",
      signal,
    });
  } catch (error) {
    if (error.name === "AbortError") throw error;
    throw new ApiError(0, describe(0));
  }
  if (response.status === 401) {
    const next = location.pathname + location.search;
    location.assign(`/login?next=${encodeURIComponent(next)}`);
    throw new ApiError(401, "Your session has ended; sign in again.");
  }
  if (response.status === 204) return null;
  let data = null;
  const type = response.headers.get("content-type") || "";
  if (type.includes("json")) data = await response.json();
  if (!response.ok) throw new ApiError(response.status, describe(response.status, data), data?.errors || []);
  return data;
}

// A message about an error, in the page's alert region (role=alert).
export function showError(message, { replaceKey } = {}) {
  const region = document.getElementById("page-alerts");
  if (!region) return null;
  if (replaceKey) {
    const previous = region.querySelector(`[data-alert-key="${replaceKey}"]`);
    if (previous) previous.remove();
  }
  const alert = document.createElement("div");
  alert.className = "alert alert-danger alert-dismissible";
  alert.setAttribute("role", "alert");
  if (replaceKey) alert.dataset.alertKey = replaceKey;
  const text = document.createElement("span");
  text.textContent = message;
  const close = document.createElement("button");
  close.type = "button";
  close.className = "btn-close";
  close.setAttribute("aria-label", "Dismiss");
  close.addEventListener("click", () => alert.remove());
  alert.append(text, close);
  region.append(alert);
  return alert;
}

export function clearError(replaceKey) {
  const region = document.getElementById("page-alerts");
  const found = region && region.querySelector(`[data-alert-key="${replaceKey}"]`);
  if (found) found.remove();
}

export function formatNumber(value, digits = 2) {
  if (value === null || value === undefined || Number.isNaN(value)) return "—";
  return Number(value).toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}
