#!/usr/bin/env bash
# The test command: install what is missing (tests/bootstrap.sh), check the code's habits
# (ruff lint and format, the import contract of docs/architecture.md), then run every test
# against a real Mosquitto, SQLite files, PostgreSQL and real MicroPython.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tests/bootstrap.sh
echo "[lint] ruff check, ruff format --check, lint-imports"
.venv/bin/ruff check --quiet .
.venv/bin/ruff format --check --quiet .
.venv/bin/lint-imports --no-cache >/dev/null || .venv/bin/lint-imports --no-cache
exec .venv/bin/python -m pytest "$@"
