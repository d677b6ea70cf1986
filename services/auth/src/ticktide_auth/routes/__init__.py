"""HTTP routes of the auth service: `/api/auth/*` and the admin user API."""
