"""Ticktide's web application: server-rendered pages over the gateway's API."""
