"""One module per page (or group of pages): each has a `router`; app.py includes them all."""
