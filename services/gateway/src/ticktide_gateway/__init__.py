"""ticktide_gateway: the HTTP API in front of Ticktide's data (REST, health, metrics)."""
