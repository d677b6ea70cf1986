// Keeps a server-rendered page's data fresh without a reload: every few
// seconds it fetches the page itself again and brings each element marked
// `data-refresh-region="NAME"` up to date with its namesake in the new HTML,
// changing only the nodes, attributes and texts that differ (focus, scroll
// position and the rest of the DOM stay as they are; nothing is announced).
// A failure shows one alert until the next success clears it.

import { showError, clearError } from "./api.js";

function syncAttributes(current, fresh) {
  for (const { name } of [...current.attributes]) {
    if (!fresh.hasAttribute(name)) current.removeAttribute(name);
  }
  for (const { name, value } of fresh.attributes) {
    if (current.getAttribute(name) !== value) current.setAttribute(name, value);
  }
}

// Make `current`'s children look like `fresh`'s, reusing nodes where the shape matches.
function morphChildren(current, fresh) {
  const now = current.childNodes;
  const wanted = fresh.childNodes;
  if (now.length !== wanted.length) {
    current.replaceChildren(...[...wanted].map((node) => document.importNode(node, true)));
    return;
  }
  for (let i = 0; i < wanted.length; i += 1) {
    const a = now[i];
    const b = wanted[i];
    if (a.nodeType !== b.nodeType || a.nodeName !== b.nodeName) {
      current.replaceChild(document.importNode(b, true), a);
    } else if (a.nodeType === Node.TEXT_NODE || a.nodeType === Node.COMMENT_NODE) {
      if (a.nodeValue !== b.nodeValue) a.nodeValue = b.nodeValue;
    } else if (a.nodeType === Node.ELEMENT_NODE) {
      syncAttributes(a, b);
      if (a.nodeName === "PROGRESS") a.value = Number(b.getAttribute("value") || 0);
      morphChildren(a, b);
    }
  }
}

export function refreshRegions(doc) {
  for (const region of document.querySelectorAll("[data-refresh-region]")) {
    const fresh = doc.querySelector(`[data-refresh-region="${region.dataset.refreshRegion}"]`);
    if (fresh && region.innerHTML !== fresh.innerHTML) morphChildren(region, fresh);
  }
}

export function startRefresh({ seconds, key }) {
  let failing = false;
  let busy = false;

  async function tick() {
    if (busy || document.hidden) return;
    busy = true;
    try {
      const response = await fetch(location.pathname + location.search, {
        headers: { Accept: "text/html" },
        credentials: "same-origin",
        cache: "no-store",
      });
      if (response.redirected && new URL(response.url).pathname === "/login") {
        location.assign(`/login?next=${encodeURIComponent(location.pathname + location.search)}`);
        return;
      }
      if (!response.ok) throw new Error(`the server answered ${response.status}`);
      const doc = new DOMParser().parseFromString(await response.text(), "text/html");
      refreshRegions(doc);
      if (failing) {
        clearError(key);
        failing = false;
      }
    } catch (error) {
      if (!failing) {
        const reason = error instanceof TypeError ? "the network is unreachable" : error.message;
        showError(`Live updates paused: ${reason}. Retrying.`, { replaceKey: key });
        failing = true;
      }
    } finally {
      busy = false;
    }
  }

  const timer = setInterval(tick, Math.max(1, seconds) * 1000);
  document.addEventListener("visibilitychange", () => {
    if (!document.hidden) tick();
  });
  return () => clearInterval(timer);
}
