"""ticktide_auth: users, passwords, sessions (create/end), API tokens, login
throttling, security events and the admin user API, served on AUTH_PORT."""
