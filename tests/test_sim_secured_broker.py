"""`tapgift sim` against a secured broker: the hub it registers its devices with admits
them at the broker at once (Mosquitto's dynamic security plugin, TAPGIFT_DYNSEC). A broker
with a password file instead: `--passwords` admits them there and makes the broker reload."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from clients import cli_api_key

from hil.broker import Broker, admit_to_password_file, free_port, wait_for_port

TAPGIFT = [sys.executable, "-m", "hil.cli"]


def test_sim_logs_in_to_a_secured_broker(tmp_path):
    with Broker(workdir=tmp_path / "broker", secure=True) as broker:
        port = free_port()
        hub = subprocess.Popen(
            TAPGIFT
            + ["hub", "--db", str(tmp_path / "hub.db"), "--mqtt", broker.url]
            + ["--api-port", str(port), "--log-level", "WARNING"],
            env={**os.environ, "TAPGIFT_DYNSEC": "true"},
        )
        try:
            wait_for_port("127.0.0.1", port, 30)
            key = cli_api_key(tmp_path / "hub.db")
            out = subprocess.run(
                TAPGIFT
                + [
                    "sim",
                    "--api-key",
                    key,
                    "--mqtt",
                    f"mqtt://{broker.host}:{broker.port}",
                    "--api",
                    f"http://127.0.0.1:{port}",
                ]
                + ["--devices", "3", "--rate", "20", "--duration", "2", "--json"],
                capture_output=True,
                text=True,
                timeout=120,
            )
        finally:
            hub.terminate()
            hub.wait(10)
    assert out.returncode == 0, out.stderr
    summary = json.loads(out.stdout)
    assert summary["granted"] == summary["taps"] > 10


def test_admitting_keeps_the_other_users_and_refuses_the_hubs_names(tmp_path):
    path = tmp_path / "passwd"
    path.write_text("tapgift-hub:$7$101$aGFzaA==$aGFzaA==\nold:$7$101$b2xk$b2xk\n")
    admit_to_password_file(path, {"old": "new-password", "d1": "p1"})
    lines = path.read_text().splitlines()
    assert [line.split(":")[0] for line in lines] == ["tapgift-hub", "old", "d1"]
    assert lines[1] != "old:$7$101$b2xk$b2xk" and "new-password" not in path.read_text()
    with pytest.raises(ValueError):
        admit_to_password_file(path, {"tapgift-hub": "mine now"})
