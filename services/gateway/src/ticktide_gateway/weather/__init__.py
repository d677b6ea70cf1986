"""Weather: `/api/weather/current` and `/historic` (routes), inputs and response
models (schemas), SQL (repository) and pre-built JSON bodies (bodies)."""
