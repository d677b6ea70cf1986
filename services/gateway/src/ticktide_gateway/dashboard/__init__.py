"""The dashboard: `/api/dashboard` (routes, schemas, repository)."""
