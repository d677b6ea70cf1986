// /services: the instances and queues tables, refreshed every few seconds.
import { startRefresh } from "./services_refresh.js";

const root = document.querySelector("[data-services]");
if (root) startRefresh({ seconds: Number(root.dataset.refreshSeconds) || 5, key: "services-refresh" });
