"""`python -m hub`: the hub's own commands (hub/cli.py)."""

from hub.cli import app

app()
