"""The performance page: `/api/performance` (routes, schemas, repository)."""
