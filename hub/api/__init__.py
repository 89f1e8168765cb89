"""The hub's REST API (/api/v1)."""
