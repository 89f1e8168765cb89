"""`tapgift chaos`: a short run keeps every invariant through hub kills and a broker restart, and
each invariant check finds a database broken by hand (so none can pass by saying nothing)."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import func, select, text, update
from sqlalchemy.exc import IntegrityError

from hil import chaos
from hil.chaos import HOLDS, Answer, Plan, Witness
from hub.core.clock import utcnow
from hub.devices.registry import DeviceDirectory, add_device
from hub.ledger import ACCOUNTS, TRANSFERS
from hub.migrations import open_database
from hub.taps.authorize import Authorizer, Incoming
from hub.wallets import cards as wallets
from hub.wallets.cash_desk import top_up
from protocol import topics


def test_a_short_chaos_run_keeps_every_invariant(db_url, tmp_path):
    plan = Plan(devices=10, kills=2, broker_restarts=1, duration=8, seed=3)
    summary = chaos.run_chaos(plan, db_url, tmp_path)
    assert summary["invariants"] == dict.fromkeys(summary["invariants"], "held"), summary["problems"]
    assert summary["ok"] and len(summary["invariants"]) == 6
    # The faults really happened: the hub died of SIGKILL twice, the broker went away once,
    # and taps were booked after each of them.
    assert summary["hub_kills"] == 2 and summary["broker_restarts"] == 1
    assert [f["event"] for f in summary["faults"]].count("hub_kill") == 2
    assert all(f["recovered_s"] is not None and f["taps_booked_after"] > 0 for f in summary["faults"])
    assert summary["granted"] > 0 and summary["delivered_holds"] == summary["holds_posted"]
    assert summary["undrained_reports"] == 0


def test_fault_plan_comes_from_the_seed():
    plan = Plan(duration=60, kills=5, broker_restarts=2, seed=11)
    assert plan.faults() == Plan(duration=60, kills=5, broker_restarts=2, seed=11).faults()
    assert plan.faults() != Plan(duration=60, kills=5, broker_restarts=2, seed=12).faults()
    assert sorted(k for _, k in plan.faults()) == ["broker_restart"] * 2 + ["hub_kill"] * 5
    assert all(6 <= t <= 42 for t, _ in plan.faults())


# ----------------------------------------------------------------------------- broken by hand


@pytest.fixture
def booked(tmp_path):
    """A database with one tap delivered and posted, and what the device saw of it."""
    engine = open_database(f"sqlite:///{tmp_path / 'hand.db'}")
    with engine.begin() as conn:
        add_device(conn, "dev-1", chaos.SITE, chaos.PRICE, "CHF")
        wallets.issue_card(conn, "CHF", "CA4D01")
        top_up(conn, "CA4D01", 10 * chaos.PRICE, "hand/CA4D01")
    device = DeviceDirectory(engine).get(chaos.SITE, "dev-1")
    authorizer, witness = Authorizer(engine), Witness(devices={"dev-1"})
    tap = {"id": "1-1", "card": "CA4D01", "units": 1}
    (grant,) = authorizer.process([Incoming(device, topics.TAP, tap)])
    hold = json.loads(grant)["hold"]
    report = {"id": "1-2", "hold": hold, "delivered": 1}
    (ack,) = authorizer.process([Incoming(device, topics.REPORT, report)])
    witness.delivered[hold] = [("dev-1", 1)]
    witness.answers += [
        Answer("dev-1", topics.TAP, tap, json.loads(grant)),
        Answer("dev-1", topics.REPORT, report, json.loads(ack)),
    ]
    assert not any(chaos.check_invariants(engine, witness, utcnow()).values())
    yield engine, witness, hold
    engine.dispose()


def _wallet(conn) -> int:
    return conn.execute(select(ACCOUNTS.c.id).where(ACCOUNTS.c.name == "card CA4D01")).scalar()


def test_a_ledger_that_does_not_sum_to_zero_is_found(booked):
    engine, _, _ = booked
    with engine.begin() as conn:
        conn.execute(
            update(ACCOUNTS)
            .where(ACCOUNTS.c.id == _wallet(conn))
            .values(credits_posted=ACCOUNTS.c.credits_posted + 7)
        )
    assert chaos.ledgers_sum_to_zero(engine)
    assert chaos.balances_match_log(engine)  # the log has no transfer for it either


def test_a_balance_that_differs_from_its_log_is_found(booked):
    engine, _, hold = booked
    with engine.begin() as conn:
        row = conn.execute(select(TRANSFERS).where(TRANSFERS.c.id == hold)).mappings().one()
        # A transfer in the log that no balance took up: the ledger still sums to zero.
        conn.execute(
            TRANSFERS.insert().values({**row, "id": "x1", "idempotency_key": "x1", "flags": "posted"})
        )
    assert not chaos.ledgers_sum_to_zero(engine)
    assert len(chaos.balances_match_log(engine)) == 2


def test_a_wallet_below_its_limit_is_found(booked):
    engine, _, _ = booked
    with engine.begin() as conn:
        wallet = _wallet(conn)
        machine = conn.execute(select(ACCOUNTS.c.id).where(ACCOUNTS.c.kind == "machine")).scalar()
        conn.execute(update(ACCOUNTS).where(ACCOUNTS.c.id == wallet).values(debits_pending=10_000))
        conn.execute(update(ACCOUNTS).where(ACCOUNTS.c.id == machine).values(credits_pending=10_000))
    assert not chaos.ledgers_sum_to_zero(engine)
    (found,) = chaos.wallets_within_limits(engine)
    assert "card CA4D01" in found


def test_a_hold_posted_twice_is_found(booked):
    engine, witness, hold = booked
    with engine.begin() as conn:
        post = conn.execute(select(TRANSFERS).where(TRANSFERS.c.pending_id == hold)).mappings().one()
        conn.execute(TRANSFERS.insert().values({**post, "id": "again", "idempotency_key": "again"}))
    (found,) = chaos.grants_posted_once(engine, witness.delivered, witness.devices)
    assert "2 post transfers" in found


def test_a_grant_delivered_twice_or_not_at_all_is_found(booked):
    engine, witness, hold = booked
    assert chaos.grants_posted_once(engine, {hold: [("dev-1", 1), ("dev-1", 1)]}, witness.devices)
    # Posted, but no device says it delivered on it.
    (found,) = chaos.grants_posted_once(engine, {}, witness.devices)
    assert "no device delivered" in found
    # The device delivered, the hub booked nothing.
    with engine.begin() as conn:
        conn.execute(text("UPDATE holds SET status = 'voided', posted = 0"))
    assert chaos.grants_posted_once(engine, witness.delivered, witness.devices)


def test_a_hold_pending_past_its_expiry_is_found_until_it_expires(booked):
    engine, _, _ = booked
    device = DeviceDirectory(engine).get(chaos.SITE, "dev-1")
    authorizer = Authorizer(engine, hold_ttl_s=30)
    authorizer.process([Incoming(device, topics.TAP, {"id": "1-3", "card": "CA4D01", "units": 1})])
    later = utcnow() + timedelta(seconds=31)
    assert chaos.no_hold_pending_past_expiry(engine, utcnow()) == []
    assert len(chaos.no_hold_pending_past_expiry(engine, later)) == 1
    expired, at = chaos.expire_leftovers(engine, 30)
    assert expired == 1 and at >= later - timedelta(seconds=2)
    assert chaos.no_hold_pending_past_expiry(engine, later) == []


def test_an_answer_not_the_stored_one_is_found(booked):
    engine, witness, _ = booked
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE device_requests SET reply = :r WHERE request_id = '1-1'"), {"r": b'{"k": "deny"}'}
        )
    assert len(chaos.answers_stored_once(engine, witness.answers)) == 1
    # A repeat now gets the (changed) stored answer, not the one the device acted on.
    assert chaos.repeats_get_stored_answer(engine, witness.answers, 2)


def test_an_answer_stored_twice_is_found(booked):
    engine, witness, _ = booked
    with engine.begin() as conn, pytest.raises(IntegrityError):
        conn.execute(
            text(
                "INSERT INTO device_requests (device_id, request_id, reply, created_at) SELECT device_id, request_id, reply, created_at FROM device_requests"
            )
        )
    with engine.begin() as conn:  # the table as it would be without its unique constraint
        conn.execute(text("CREATE TABLE copy AS SELECT * FROM device_requests"))
        conn.execute(text("DROP TABLE device_requests"))
        conn.execute(text("ALTER TABLE copy RENAME TO device_requests"))
        conn.execute(text("INSERT INTO device_requests SELECT * FROM device_requests"))
        assert conn.execute(select(func.count()).select_from(text("device_requests"))).scalar() == 4
    found = chaos.answers_stored_once(engine, witness.answers)
    assert "no unique" in found[0] and len(found) == 3


def test_repeated_requests_book_nothing_new(booked):
    engine, witness, hold = booked
    assert chaos.repeats_get_stored_answer(engine, witness.answers, 10) == []
    with engine.begin() as conn:  # a second hold for the same tap request
        row = conn.execute(select(HOLDS).where(HOLDS.c.id == hold)).mappings().one()
        conn.execute(HOLDS.insert().values({**row, "id": "second", "status": "expired", "posted": 0}))
    (found,) = chaos.answers_stored_once(engine, witness.answers)
    assert "request 1-1 held 2 times" in found


def test_the_command_exits_non_zero_when_an_invariant_is_broken(monkeypatch, tmp_path):
    from typer.testing import CliRunner

    from hil.cli import app

    broken = {"ok": False, "faults": [], "invariants": {"ledgers_sum_to_zero": "BROKEN (1)"}, "problems": {}}
    monkeypatch.setattr(chaos, "run_on", lambda db, plan, work: {**broken, "seed": plan.seed})
    result = CliRunner().invoke(app, ["chaos", "--seed", "9", "--work", str(tmp_path), "--json"])
    assert result.exit_code == 1 and json.loads(result.stdout)["seed"] == 9
    monkeypatch.setattr(chaos, "run_on", lambda db, plan, work: {**broken, "ok": True})
    assert CliRunner().invoke(app, ["chaos"]).exit_code == 0
