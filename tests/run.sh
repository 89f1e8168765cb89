#!/usr/bin/env bash
# The test command: install what is missing (tests/bootstrap.sh), then run every
# test against a real Mosquitto, SQLite files, PostgreSQL and real MicroPython.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tests/bootstrap.sh
exec .venv/bin/python -m pytest "$@"
