"""`tapgift bench` with the lean load generator: every figure of the run is there, and the
run's exactly-once check passes. Figures are printed, never asserted against a time."""

from __future__ import annotations

import json
import subprocess
import sys

from hil.loadgen import _varlen, connect_packet, merge, publish_packet

TAPGIFT = [sys.executable, "-m", "hil.cli"]


def test_mqtt_packets_are_encoded_as_the_standard_says():
    assert _varlen(0) == b"\x00" and _varlen(127) == b"\x7f"
    assert _varlen(128) == b"\x80\x01" and _varlen(16_383) == b"\xff\x7f"
    packet = publish_packet(b"t/x", b"body", 7)
    assert packet == b"\x32\x0b\x00\x03t/x\x00\x07body"
    assert publish_packet(b"t/x", b"body", 7, dup=True)[0] == 0x3A
    connect = connect_packet("dev-1", "dev-1", "pw")
    assert connect[0] == 0x10 and b"\x00\x04MQTT\x04\xc2" in connect


def test_worker_tallies_merge():
    merged = merge(
        [
            {"taps": 2, "latencies": [1.0], "delivered": [("a", "h1", 1)], "issued_s": 2.0},
            {"taps": 3, "latencies": [2.0], "delivered": [], "issued_s": 2.5},
        ]
    )
    assert merged == {"taps": 5, "latencies": [1.0, 2.0], "delivered": [("a", "h1", 1)], "issued_s": 2.5}


def test_bench_reports_hub_broker_and_generator_cost_and_checks_exactly_once():
    out = subprocess.run(
        TAPGIFT
        + ["bench", "--devices", "10", "--rate", "40", "--duration", "2", "--echo-count", "20"]
        + ["--generators", "2", "--json"],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert out.returncode == 0, out.stderr
    summary = json.loads(out.stdout)
    assert summary["granted"] > 40 and summary["timeouts"] == 0
    assert summary["exactly_once"] is True, summary["exactly_once_problems"]
    for figure in (
        "echo_p50_ms",
        "tap_p50_ms",
        "tap_p99_ms",
        "taps_per_s",
        "hub_cpu_ms_per_tap",
        "broker_cpu_ms_per_tap",
        "generator_cpu_ms_per_tap",
        "tap_p99_over_echo_p99",
    ):
        assert summary[figure] is not None and summary[figure] >= 0, figure
    assert len(summary["load_average"]) == 3
    # A tap is two requests; each batch holds one or more of them.
    assert summary["requests_per_batch"] >= 1


def test_bench_api_pays_baskets_from_concurrent_tills_without_a_failure():
    out = subprocess.run(
        TAPGIFT
        + ["bench-api", "--seconds", "1", "--tills", "1", "--tills", "3", "--kind", "3 articles"]
        + ["--kind", "top-up", "--json"],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert out.returncode == 0, out.stderr
    summary = json.loads(out.stdout)
    rounds = summary["rounds"]
    assert [(r["kind"], r["tills"]) for r in rounds] == [
        ("3 articles", 1),
        ("3 articles", 3),
        ("top-up", 1),
        ("top-up", 3),
    ]
    for r in rounds:
        assert r["paid"] > 0 and r["failed"] == 0
        assert r["hub_cpu_ms"] is not None and r["p99_ms"] is not None
