"""HTTP routers of the gateway, one module per audience: public, user, admin."""
