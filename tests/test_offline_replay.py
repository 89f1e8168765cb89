"""Offline vends replayed from a controller's journal (up/report with "off"): booked
from the wallet once per (device, event id), also under a new request id and after
the hub is killed and restarted; what the wallet cannot cover goes to the site's
offline-loss account and is listed as an overspend. On SQLite and PostgreSQL."""

from __future__ import annotations

import signal
import threading
import types

from clients import api_client
from sqlalchemy import func, select
from test_end_to_end import PRICE, SITE, RawDevice, card, make_card
from test_hub_restart import start_hub

from hub.api.app import create_app
from hub.ledger import ACCOUNTS, TRANSFERS, ledger_totals
from hub.migrations import open_database as make_engine
from hub.taps.authorize import Authorizer, Incoming
from hub.taps.offline_vends import LOSS_KIND
from protocol import messages, topics


def offline_transfers(engine, device_id):
    with engine.connect() as conn:
        return conn.execute(
            select(TRANSFERS.c.code, TRANSFERS.c.amount)
            .where(TRANSFERS.c.idempotency_key.like(f"offline/{device_id}/%"))
            .order_by(TRANSFERS.c.code, TRANSFERS.c.amount)
        ).all()


def loss_balance(engine, site=SITE):
    with engine.connect() as conn:
        return (
            conn.execute(
                select(ACCOUNTS.c.credits_posted - ACCOUNTS.c.debits_posted).where(
                    ACCOUNTS.c.kind == LOSS_KIND, ACCOUNTS.c.name == f"offline loss {site}"
                )
            ).scalar()
            or 0
        )


async def replay(raw, request_id, off, uid, delivered, timeout=5.0, **extra):
    await raw.send(
        topics.REPORT, {"id": request_id, "off": off, "card": uid, "delivered": delivered, **extra}
    )
    [reply] = await raw.replies(1, timeout)
    return raw.open(reply)


async def test_a_covered_offline_vend_is_booked_once_however_often_it_is_replayed(hub):
    uid = make_card(hub, 1000)
    async with RawDevice(hub) as raw:
        ack = await replay(raw, "5-1", "4-9", uid, 2, ago=90)
        assert ack == {"k": messages.ACK, "re": "5-1", "posted": 2 * PRICE, "voided": 0, "short": 0}
        # QoS 1 redelivery, then the device rebooted and sent it under a new request id.
        await raw.send(topics.REPORT, {"id": "5-1", "off": "4-9", "card": uid, "delivered": 2, "ago": 90})
        [same] = await raw.replies(1)
        assert raw.open(same) == ack
        again = await replay(raw, "6-1", "4-9", uid, 2)
        assert (again["re"], again["posted"], again["short"]) == ("6-1", 2 * PRICE, 0)
        # Another offline vend of the same device is its own event.
        other = await replay(raw, "6-2", "4-10", uid, 1)
        assert (other["posted"], other["short"]) == (PRICE, 0)
    assert card(hub, uid)["balance"] == 1000 - 3 * PRICE
    assert offline_transfers(hub.engine, raw.id) == [("offline_vend", PRICE), ("offline_vend", 2 * PRICE)]
    with api_client(create_app(hub.engine)) as api:
        assert api.get("/api/v1/offline-overspends").json() == []


async def test_an_overspend_takes_what_the_wallet_has_and_is_flagged(hub):
    uid = make_card(hub, PRICE + 50)
    blocked = make_card(hub, 5000, status="blocked")
    async with RawDevice(hub) as raw:
        short = await replay(raw, "7-1", "6-3", uid, 3, ago=3600)
        assert (short["posted"], short["short"]) == (PRICE + 50, 2 * PRICE - 50)
        # The wallet is empty now: the next one is all short; never below zero.
        empty = await replay(raw, "7-2", "6-4", uid, 1)
        assert (empty["posted"], empty["short"]) == (0, PRICE)
        # A card unknown to the hub, and a blocked (lost) card: the wallet pays nothing.
        unknown = await replay(raw, "7-3", "6-5", "CAFEBABE99", 1)
        assert (unknown["posted"], unknown["short"]) == (0, PRICE)
        lost = await replay(raw, "7-4", "6-6", blocked, 1)
        assert (lost["posted"], lost["short"]) == (0, PRICE)
        # A repeat of the overspent event books nothing more.
        assert (await replay(raw, "8-1", "6-3", uid, 3))["short"] == 2 * PRICE - 50
    assert card(hub, uid)["balance"] == 0
    assert card(hub, blocked)["balance"] == 5000
    assert loss_balance(hub.engine) == -(2 * PRICE - 50 + 3 * PRICE)
    with api_client(create_app(hub.engine)) as api:
        listed = api.get("/api/v1/offline-overspends", params={"site": SITE}).json()
        assert api.get("/api/v1/offline-overspends", params={"site": "elsewhere"}).json() == []
    assert sorted((o["event_id"], o["overspend"], o["posted"], o["short"]) for o in listed) == [
        ("6-3", "insufficient_funds", PRICE + 50, 2 * PRICE - 50),
        ("6-4", "insufficient_funds", 0, PRICE),
        ("6-5", "unknown_card", 0, PRICE),
        ("6-6", "blocked_card", 0, PRICE),
    ]
    first = next(o for o in listed if o["event_id"] == "6-3")
    assert (first["device_id"], first["card_uid"], first["units"], first["amount"]) == (
        raw.id,
        uid,
        3,
        3 * PRICE,
    )
    assert first["vended_at"] < first["booked_at"]


async def test_one_event_twice_in_one_batch_is_booked_once(hub):
    uid = make_card(hub, 1000)
    async with RawDevice(hub) as raw:
        device = hub.directory.get(SITE, raw.id)
        batch = [
            Incoming(device, topics.REPORT, {"id": f"9-{n}", "off": "8-1", "card": uid, "delivered": 1})
            for n in (1, 2)
        ]
        replies = [messages.decode(topics.REPLY, r) for r in hub.authorizer.process(batch)]
    assert [(r["re"], r["posted"], r["short"]) for r in replies] == [("9-1", PRICE, 0), ("9-2", PRICE, 0)]
    assert card(hub, uid)["balance"] == 1000 - PRICE


async def test_two_hub_processes_given_the_same_event_at_once_book_it_once(hub):
    """A shared subscription may hand a redelivery to another hub process while the
    first is still booking: both answer with the same numbers, one booking stands."""
    uid = make_card(hub, PRICE)
    async with RawDevice(hub) as raw:
        device = hub.directory.get(SITE, raw.id)
    hubs = [Authorizer(hub.engine) for _ in range(2)]
    start, replies = threading.Barrier(2), {}

    def run(n):
        start.wait()
        body = {"id": f"{n}-1", "off": "1-1", "card": uid, "delivered": 3}
        [reply] = hubs[n].process([Incoming(device, topics.REPORT, body)])
        replies[n] = messages.decode(topics.REPLY, reply)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert [(r["posted"], r["short"]) for r in replies.values()] == [(PRICE, 2 * PRICE)] * 2
    assert offline_transfers(hub.engine, raw.id) == [("offline_loss", 2 * PRICE), ("offline_vend", PRICE)]
    assert loss_balance(hub.engine) == -2 * PRICE


async def test_a_replay_after_the_hub_was_killed_books_nothing_new(db_url, broker, tmp_path):
    engine = make_engine(db_url)
    hub = types.SimpleNamespace(
        engine=engine, bridge=types.SimpleNamespace(mqtt={"hostname": broker.host, "port": broker.port})
    )
    uid = make_card(hub, PRICE)
    proc = start_hub(db_url, broker, tmp_path / "hub.log")
    try:
        async with RawDevice(hub) as raw:
            before = await replay(raw, "2-1", "1-5", uid, 2)
            proc.send_signal(signal.SIGKILL)
            proc.wait(10)
            proc = start_hub(db_url, broker, tmp_path / "hub.log")
            after = await replay(raw, "3-1", "1-5", uid, 2, timeout=30)
        assert (before["posted"], before["short"]) == (PRICE, PRICE)
        assert (after["re"], after["posted"], after["short"]) == ("3-1", PRICE, PRICE)
        with engine.connect() as conn:
            booked = conn.execute(
                select(func.count()).where(TRANSFERS.c.idempotency_key.like(f"offline/{raw.id}/%"))
            ).scalar()
            assert booked == 2  # the wallet's part and the loss account's part, once
            assert all(s == {"posted": 0, "pending": 0} for s in ledger_totals(conn).values())
        assert card(hub, uid)["balance"] == 0
        assert loss_balance(engine) == -PRICE
    finally:
        proc.terminate()
        proc.wait(10)
        engine.dispose()
