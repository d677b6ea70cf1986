// The dashboard: its prices, weather, batches, health and freshness refreshed every 30 s.
import { startRefresh } from "./services_refresh.js";

const root = document.querySelector("[data-dashboard]");
if (root) startRefresh({ seconds: Number(root.dataset.refreshSeconds) || 30, key: "dashboard-refresh" });
