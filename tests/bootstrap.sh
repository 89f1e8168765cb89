#!/usr/bin/env bash
# Installs what tapgift needs on a Debian machine, each step only if missing:
#   - Debian packages: python3 + venv, Mosquitto (broker), Node.js + npm (MicroPython lane),
#     Chromium (the console's browser tests drive it with Playwright; no `playwright install`)
#   - a virtualenv in .venv with tapgift and its test tools (pip install -e '.[test]')
#   - the MicroPython WebAssembly interpreter from npm (hil/micropython/node_modules)
#   - starts the local PostgreSQL cluster if one is installed but down
# Safe to run again; prints what it does.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '\033[1m[bootstrap]\033[0m %s\n' "$*"; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

missing=()
command -v python3 >/dev/null || missing+=(python3)
python3 -c 'import venv, ensurepip' 2>/dev/null || missing+=(python3-venv)
command -v mosquitto >/dev/null || missing+=(mosquitto)
command -v node >/dev/null || missing+=(nodejs)
command -v npm >/dev/null || missing+=(npm)
command -v chromium >/dev/null || missing+=(chromium)
if [ ${#missing[@]} -gt 0 ]; then
  say "installing Debian packages: ${missing[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
fi

if [ ! -x .venv/bin/python ]; then
  say "creating the virtualenv .venv"
  python3 -m venv .venv
fi
stamp=.venv/.tapgift-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  say "installing tapgift and its Python packages into .venv"
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -e '.[test]'
  touch "$stamp"
fi

if [ ! -d hil/micropython/node_modules/@micropython ]; then
  say "installing the MicroPython interpreter (npm)"
  (cd hil/micropython && npm ci --no-audit --no-fund --loglevel=error)
fi

if command -v pg_lsclusters >/dev/null; then
  pg_lsclusters --no-header | while read -r ver name port status _; do
    if [ "$status" != online ]; then
      say "starting PostgreSQL $ver/$name"
      as_root pg_ctlcluster --skip-systemctl-redirect "$ver" "$name" start || true
    fi
  done
fi
say "ready"
