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
# Two workers, each taking whole files (their module fixtures stay on one worker): most tests
# wait on a broker, a hub or a browser, so two cores run two files at once. schemathesis runs
# after them in one process: under xdist its operations collapse into one test.
if [ "$#" -gt 1 ] || { [ "$#" -eq 1 ] && [ "$1" != "-q" ]; }; then
    exec .venv/bin/python -m pytest "$@"  # a chosen test, file or option: as asked
fi
.venv/bin/python -m pytest -n "${TAPGIFT_TEST_WORKERS:-2}" --dist loadfile \
    --ignore=tests/test_schemathesis.py "$@"
exec .venv/bin/python -m pytest tests/test_schemathesis.py "$@"
