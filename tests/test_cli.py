"""The `tapgift` commands a newcomer runs, as processes."""

from __future__ import annotations

import json
import subprocess

from clients import cli_api_key
from processes import TAPGIFT, run_sim, running_hub

from hil.broker import Broker, free_port


def test_demo_runs_for_its_duration_and_prints_one_json_summary(tmp_path):
    out = subprocess.run(
        TAPGIFT
        + [
            "demo",
            "--devices",
            "5",
            "--duration",
            "3",
            "--json",
            "--data",
            str(tmp_path / "data"),
            "--api-port",
            str(free_port()),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    summary = json.loads(out.stdout)
    assert summary["taps"] > 5 and summary["granted"] > 0 and summary["timeouts"] == 0
    assert summary["taps"] == summary["granted"] + summary["denied"]
    assert 0 < summary["p50_ms"] <= summary["p99_ms"]
    assert (tmp_path / "data" / "demo.db").exists()


def test_sim_drives_a_running_hub_through_its_api(tmp_path):
    with Broker() as broker, running_hub(tmp_path / "hub.db", broker.url) as api:
        summary = run_sim(api, cli_api_key(tmp_path / "hub.db"), broker.url, devices=4)
    assert summary["granted"] == summary["taps"] > 10


def test_bench_ledger_books_debits_beside_pgbench(pg_url):
    """The PostgreSQL figure of DESIGN: our debits/s and pgbench's tps from one run."""
    admin = pg_url.rsplit("/", 1)[0] + "/postgres"
    out = subprocess.run(
        TAPGIFT
        + [
            "bench-ledger",
            "--db",
            admin,
            "--seconds",
            "1",
            "--batch",
            "32",
            "--cards",
            "50",
            "--scale",
            "1",
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert out.returncode == 0, out.stderr
    summary = json.loads(out.stdout)
    assert summary["debits"] > 0 and summary["transactions"] >= 2
    assert summary["pgbench_tpcb_tps"] > 0
    assert summary["ratio_to_pgbench"] == round(summary["debits_per_s"] / summary["pgbench_tpcb_tps"], 2)


def test_bench_ledger_books_from_several_processes_at_once(tmp_path):
    """As several hubs on one database: each booker its own devices and cards, all counted."""
    out = subprocess.run(
        TAPGIFT
        + ["bench-ledger", "--db", "sqlite", "--seconds", "1", "--batch", "8", "--cards", "40"]
        + ["--bookers", "2", "--json"],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert out.returncode == 0, out.stderr
    summary = json.loads(out.stdout)
    assert summary["bookers"] == 2
    # each booker books a tap batch and its report batch at least once
    assert summary["transactions"] >= 4 and summary["debits"] >= 16


def test_bench_with_loyalty_earns_points_on_the_taps_it_measures():
    out = subprocess.run(
        TAPGIFT
        + [
            "bench",
            "--devices",
            "4",
            "--rate",
            "20",
            "--duration",
            "2",
            "--echo-count",
            "20",
            "--loyalty",
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert out.returncode == 0, out.stderr
    summary = json.loads(out.stdout)
    assert summary["loyalty"] is True and summary["granted"] > 10
    # 5 points for the cola and 2 for its 2.50 (2.25 with the discount) per delivered tap;
    # the last taps' reports may still be on their way when the points are read.
    assert 7 * (summary["granted"] - 4) <= summary["points_earned"] <= 7 * summary["granted"]
