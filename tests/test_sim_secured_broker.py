"""`tapgift sim` against a secured broker: the hub it registers its devices with admits
them at the broker at once (Mosquitto's dynamic security plugin, TAPGIFT_DYNSEC). A broker
with a password file instead: `--passwords` admits them there and makes the broker reload."""

from __future__ import annotations

import pytest
from clients import cli_api_key
from processes import run_sim, running_hub

from hil.broker import Broker, admit_to_password_file


def test_sim_logs_in_to_a_secured_broker(tmp_path):
    with (
        Broker(workdir=tmp_path / "broker", secure=True) as broker,
        running_hub(tmp_path / "hub.db", broker.url, env={"TAPGIFT_DYNSEC": "true"}) as api,
    ):
        key = cli_api_key(tmp_path / "hub.db")
        summary = run_sim(api, key, f"mqtt://{broker.host}:{broker.port}", devices=3)
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
