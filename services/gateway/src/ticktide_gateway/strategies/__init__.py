"""Saved strategies in the rule language: `/api/strategies` (routes, schemas,
repository), the documents' checks (service), and the system strategies' seed."""
