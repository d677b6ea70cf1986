"""The database pages: `/api/user/database/info` (routes) and the admin tools under
`/api/admin/database` (admin_routes), their models (schemas) and SQL (repository)."""
