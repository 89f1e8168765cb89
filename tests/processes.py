"""The `tapgift` command as processes, the way a newcomer runs it: a hub serving a broker, and
`tapgift sim` driving it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from hil.broker import free_port, wait_for_port

TAPGIFT = [sys.executable, "-m", "hil.cli"]


def start_hub(
    db: str | Path, mqtt_url: str, *extra: str, env: dict | None = None, log: IO | None = None
) -> tuple[subprocess.Popen, int]:
    """`tapgift hub` on a free API port, once it answers there; the caller stops it."""
    port = free_port()
    proc = subprocess.Popen(
        TAPGIFT
        + ["hub", "--db", str(db), "--mqtt", mqtt_url, "--api-port", str(port), "--log-level", "WARNING"]
        + list(extra),
        env={**os.environ, **(env or {})},
        stdout=log,
        stderr=subprocess.STDOUT if log else None,
    )
    try:
        wait_for_port("127.0.0.1", port, timeout=30)
    except BaseException:
        proc.kill()
        raise
    return proc, port


@contextmanager
def running_hub(db: str | Path, mqtt_url: str, *extra: str, env: dict | None = None) -> Iterator[str]:
    """A hub process for the block; yields its API's URL."""
    proc, port = start_hub(db, mqtt_url, *extra, env=env)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(10)


def run_sim(
    api_url: str, api_key: str, mqtt_url: str, devices: int, rate: int = 20, duration: int = 2
) -> dict:
    """`tapgift sim` against a running hub; its JSON summary."""
    out = subprocess.run(
        TAPGIFT
        + ["sim", "--api-key", api_key, "--mqtt", mqtt_url, "--api", api_url]
        + ["--devices", str(devices), "--rate", str(rate), "--duration", str(duration), "--json"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)
