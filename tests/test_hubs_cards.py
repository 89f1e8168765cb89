"""Several hubs, one card: two hub processes on one PostgreSQL behind one Mosquitto, sharing the
devices' topics as one MQTT shared-subscription group, and a card tapped through both at once.

- A card with the balance for exactly N taps, tapped by many controllers at the same moment,
  round after round: exactly N taps are granted whichever hub answers them, every other tap is
  denied for insufficient funds, the wallet never goes below zero, every grant is one hold.
- Holds no device reports on expire once, though both hubs sweep for them every 0.1 s: each
  is voided by one transfer, and the wallet has its money back once.
- Two hubs met mid-sweep, in process and step by step: a delivery report another hub commits
  while the sweep runs is not voided again, and the sweep and a batch of taps on the same cards
  never deadlock (both happened until the sweep locked as a batch of taps does).

The controllers are small paho-mqtt clients that do on the wire what firmware/link.py does:
request ids from protocol.ids, bodies signed with the device's key (protocol.signing), QoS 1,
the same request repeated after a reply timeout. No figure here is a timing assertion: every
wait polls for a state with a generous limit."""

from __future__ import annotations

import json
import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import httpx
import paho.mqtt.client as mqtt
from sqlalchemy import func, select

from hil.bench import Hubs, exactly_once, prepare
from hil.broker import Broker
from hil.chaos import ledgers_sum_to_zero, wallets_within_limits
from hil.fleet_setup import Fleetplan
from hub.core.clock import utcnow
from hub.core.engine import make_engine
from hub.devices.registry import DeviceDirectory
from hub.ledger import ACCOUNTS, TRANSFERS, Book
from hub.tables.cards import Card
from hub.tables.taps import Hold
from hub.taps.authorize import Authorizer, Incoming
from protocol import messages as m
from protocol import topics
from protocol.ids import RequestIds
from protocol.signing import Signer

HOLDS = Hold.__table__
CARDS = Card.__table__
SITE = "hubs-park"
PRICE = 250


class Controller:
    """One controller's conversation with the hubs: ask() publishes a signed request and waits
    for the signed reply that names it, repeating the request (same id, same bytes) until then."""

    def __init__(self, device_id: str, key: str, broker: Broker, ids_dir: Path):
        self.id = device_id
        self.signer = Signer(key)
        self.ids = RequestIds(str(ids_dir / f"{device_id}.boot"))
        self.reply_topic = topics.down(SITE, device_id)
        self.replies: dict[str, dict] = {}
        self.arrived = threading.Condition()
        subscribed = threading.Event()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=device_id)
        self.client.on_message = self._on_message
        self.client.on_subscribe = lambda *a: subscribed.set()
        self.client.on_connect = lambda c, *a: c.subscribe(self.reply_topic, qos=1)
        self.client.connect(broker.host, broker.port)
        self.client.loop_start()
        if not subscribed.wait(30):
            raise TimeoutError(f"{device_id}: not subscribed to its replies")

    def _on_message(self, _client, _userdata, message) -> None:
        if message.retain or message.topic != self.reply_topic:
            return
        reply = json.loads(self.signer.open(self.reply_topic, message.payload))  # a bad tag raises
        with self.arrived:
            self.replies.setdefault(reply.get("re"), reply)
            self.arrived.notify_all()

    def ask(self, kind: str, body: dict, repeat_s: float = 3.0, limit_s: float = 90.0) -> dict:
        rid = self.ids.next()
        topic = topics.up(SITE, self.id, kind)
        payload = self.signer.seal(topic, json.dumps({**body, "id": rid}).encode())
        deadline = time.monotonic() + limit_s
        with self.arrived:
            while rid not in self.replies:
                self.client.publish(topic, payload, qos=1)
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{self.id}: no answer to {kind} {rid}")
                self.arrived.wait_for(lambda: rid in self.replies, repeat_s)
            return self.replies.pop(rid)

    def tap(self, card: str, units: int = 1) -> dict:
        return self.ask(topics.TAP, {"card": card, "units": units})

    def report(self, hold: str, delivered: int) -> dict:
        return self.ask(topics.REPORT, {"hold": hold, "delivered": delivered})

    def close(self) -> None:
        self.client.disconnect()  # first: the network thread then ends at once
        self.client.loop_stop()


def _health(group: Hubs) -> list[dict]:
    """Each hub's /api/v1/health: its MQTT bridge's state and counters."""
    return [httpx.get(f"{group.api_url(i)}/api/v1/health", timeout=30).json() for i in range(group.n)]


def _serving(group: Hubs, broker: Broker, provisioned, ids_dir: Path) -> list[Controller]:
    """Once every hub's bridge is connected to the broker (so each takes its share of the
    group's messages from the first tap on), the controllers, connected."""
    deadline = time.monotonic() + 60
    while not all(h["mqtt_connected"] for h in _health(group)):
        assert time.monotonic() < deadline, "a hub did not connect to the broker"
        time.sleep(0.1)
    with ThreadPoolExecutor(8) as pool:
        return list(pool.map(lambda dk: Controller(*dk, broker, ids_dir), provisioned))


def _wallet(engine, uid: str) -> dict:
    with engine.connect() as conn:
        row = conn.execute(
            select(ACCOUNTS).join(CARDS, CARDS.c.account_id == ACCOUNTS.c.id).where(CARDS.c.uid == uid)
        ).mappings()
        return dict(row.one())


def test_a_card_tapped_through_two_hubs_at_once_is_never_overdrawn(pg_url, tmp_path):
    """16 controllers tap one card at the same moment, round after round, through a 2-hub share
    group; the card holds the price of exactly 40 taps. Each round ends with every grant's
    delivery report, as a dispenser that delivered in full sends it."""
    taps_paid_for, machines = 40, 16
    plan = Fleetplan(devices=machines, cards=1, balance=taps_paid_for * PRICE, unit_price=PRICE, site=SITE)
    provisioned, (card,), _key = prepare(pg_url, plan)
    granted, denied, delivered = [], [], []
    with Broker(workdir=tmp_path) as broker, Hubs(2, pg_url, broker, tmp_path) as group:
        controllers = _serving(group, broker, provisioned, tmp_path)
        start = threading.Barrier(machines)

        def one_round(c: Controller) -> None:
            start.wait(60)  # every controller taps at the same moment
            reply = c.tap(card)
            if reply["k"] == m.GRANT:
                granted.append(reply)
                ack = c.report(reply["hold"], reply["units"])
                assert ack["k"] == m.ACK and ack["posted"] == reply["amount"], ack
                delivered.append((c.id, reply["hold"], reply["units"]))
            else:
                denied.append(reply)

        try:
            with ThreadPoolExecutor(machines) as pool:
                for _ in range(taps_paid_for // machines + 2):  # the last round: all denied
                    list(pool.map(one_round, controllers))
            answered = [h["stats"].get("answered", 0) for h in _health(group)]
        finally:
            for c in controllers:
                c.close()
    assert all(n > 0 for n in answered), answered  # both hubs answered taps of the card

    assert len(granted) == taps_paid_for, (len(granted), len(denied))
    assert denied and {d["k"] for d in denied} == {m.DENY}
    assert {d["code"] for d in denied} == {m.INSUFFICIENT_FUNDS}, denied
    # Each answer's balance is what is left after it: never below zero, and 0 at the end.
    assert min(r["balance"] for r in granted + denied) == 0

    engine = make_engine(pg_url)
    try:
        wallet = _wallet(engine, card)
        with engine.connect() as conn:
            holds = conn.execute(select(HOLDS).where(HOLDS.c.card_uid == card)).mappings().all()
            hold_transfers = dict(
                conn.execute(
                    select(TRANSFERS.c.id, func.count())
                    .where(TRANSFERS.c.code == "tap_hold", TRANSFERS.c.debit_account_id == wallet["id"])
                    .group_by(TRANSFERS.c.id)
                ).all()
            )
        within_limits = wallets_within_limits(engine)
    finally:
        engine.dispose()
    assert wallet["credits_posted"] - wallet["debits_posted"] == 0 and wallet["debits_pending"] == 0
    assert wallet["debits_posted"] == taps_paid_for * PRICE
    # Every grant is one hold of the card, held by one transfer, and no hold was made for a deny.
    assert sorted(h["id"] for h in holds) == sorted(g["hold"] for g in granted)
    assert hold_transfers == {g["hold"]: 1 for g in granted}
    assert {(h["status"], h["posted"]) for h in holds} == {("posted", PRICE)}
    # Every delivered hold posted once, with what was delivered; every ledger sums to zero.
    assert exactly_once(pg_url, {d for d, _ in provisioned}, delivered) == []
    assert within_limits == []


def test_holds_nobody_reports_expire_once_though_two_hubs_sweep(pg_url, tmp_path):
    """Holds that no delivery report resolves (a hold TTL of 1 s) while both hubs run their
    sweep every 0.1 s: each hold is voided by one transfer, its whole amount, and every wallet
    has its money back once. A report that comes after the expiry posts nothing."""
    balance, machines, taps_each = 10_000, 8, 4
    plan = Fleetplan(devices=machines, cards=4, balance=balance, unit_price=PRICE, site=SITE)
    provisioned, cards, _key = prepare(pg_url, plan)
    env = {"TAPGIFT_HOLD_TTL_S": "1", "TAPGIFT_SWEEP_INTERVAL_S": "0.1"}
    with Broker(workdir=tmp_path) as broker, Hubs(2, pg_url, broker, tmp_path, env=env) as group:
        controllers = _serving(group, broker, provisioned, tmp_path)
        try:

            def taps(i_c: tuple[int, Controller]) -> list[tuple[Controller, dict]]:
                i, c = i_c
                return [(c, c.tap(cards[(i + t) % len(cards)])) for t in range(taps_each)]

            with ThreadPoolExecutor(machines) as pool:
                grants = [g for gs in pool.map(taps, enumerate(controllers)) for g in gs]
            assert {g["k"] for _, g in grants} == {m.GRANT}
            engine = make_engine(pg_url)
            try:
                deadline = time.monotonic() + 90
                while _pending(engine) and time.monotonic() < deadline:
                    time.sleep(0.2)
                assert _pending(engine) == 0
                # A controller that comes back late with its report: the hold is gone, nothing posts.
                late_device, late_grant = grants[0]
                late = late_device.report(late_grant["hold"], 1)
                with engine.connect() as conn:
                    holds = conn.execute(select(HOLDS)).mappings().all()
                    voids = conn.execute(
                        select(TRANSFERS.c.pending_id, TRANSFERS.c.amount, TRANSFERS.c.code).where(
                            TRANSFERS.c.flags.in_(("void", "post"))
                        )
                    ).all()
                wallets = [_wallet(engine, uid) for uid in cards]
                expired_by = [h["stats"].get("holds_expired", 0) for h in _health(group)]
                problems = ledgers_sum_to_zero(engine) + wallets_within_limits(engine)
            finally:
                engine.dispose()
        finally:
            for c in controllers:
                c.close()
    sweep_failures = [
        line
        for i in range(group.n)
        for line in (tmp_path / f"hub-{i + 1}.log").read_text().splitlines()
        if "sweep failed" in line
    ]

    made = len(grants)
    assert made == machines * taps_each and len(holds) == made
    assert {(h["status"], h["posted"]) for h in holds} == {("expired", 0)}
    # One void of the whole amount per hold, no post, and nothing else resolved them.
    assert sorted(voids) == sorted((h["id"], h["amount"], "hold_expired") for h in holds)
    # Every wallet has its money back, once: the balance it started with, nothing held.
    assert [(w["credits_posted"] - w["debits_posted"], w["debits_pending"]) for w in wallets] == [
        (balance, 0)
    ] * len(cards)
    assert sum(expired_by) == made  # each hold counted by the one hub that expired it
    assert sweep_failures == []  # the hubs never swept the same holds at once
    assert late["k"] == m.ACK and (late["posted"], late.get("status")) == (0, "expired")
    assert problems == []


def _pending(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(
            select(func.count()).select_from(HOLDS).where(HOLDS.c.status == "pending")
        ).scalar()


def test_a_report_another_hub_commits_while_the_sweep_runs_resolves_the_hold_once(pg_url, monkeypatch):
    """Two hubs, as two Authorizers on their own engines: hub A's sweep has read a hold as
    pending and expired; before it writes, the device's delivery report reaches hub B, which
    posts it. The hold must stay resolved once: posted, one post transfer and no void, the
    wallet charged. (Hub A is paused at its first Book.resolve; if it locks the hold or the
    wallet before that, hub B waits for it instead, and the report finds the hold expired.)"""
    plan = Fleetplan(devices=1, cards=1, balance=1_000, unit_price=PRICE, site=SITE)
    ((device_id, _key),), (card,), _ = prepare(pg_url, plan)
    engines = [make_engine(pg_url), make_engine(pg_url)]
    try:
        device = DeviceDirectory(engines[0]).get(SITE, device_id)
        hub_a, hub_b = Authorizer(engines[0], hold_ttl_s=1), Authorizer(engines[1], hold_ttl_s=1)
        tap = Incoming(device, topics.TAP, {"id": "1.0a0a0a0a0a-1", "card": card, "units": 1})
        grant = json.loads(hub_b.process([tap])[0])
        assert grant["k"] == m.GRANT
        paused, resume = threading.Event(), threading.Event()
        resolve = Book.resolve

        def pausing_resolve(self, *args, **kw):
            if threading.current_thread().name == "hub-a-sweep":
                paused.set()
                resume.wait(60)
            return resolve(self, *args, **kw)

        monkeypatch.setattr(Book, "resolve", pausing_resolve)
        later = utcnow() + timedelta(seconds=5)  # the hold has expired by then
        sweep = threading.Thread(target=lambda: hub_a.expire(now=later, wait=False), name="hub-a-sweep")
        report = Incoming(
            device, topics.REPORT, {"id": "1.0a0a0a0a0a-2", "hold": grant["hold"], "delivered": 1}
        )
        acks = []
        reporting = threading.Thread(target=lambda: acks.extend(hub_b.process([report])))
        sweep.start()
        paused.wait(10)
        reporting.start()
        reporting.join(3)  # committed, or waiting for a lock hub A holds
        resume.set()
        sweep.join(60)
        reporting.join(60)
        with engines[0].connect() as conn:
            hold = conn.execute(select(HOLDS).where(HOLDS.c.id == grant["hold"])).mappings().one()
            resolutions = sorted(
                tuple(r)
                for r in conn.execute(
                    select(TRANSFERS.c.flags, TRANSFERS.c.amount).where(
                        TRANSFERS.c.pending_id == grant["hold"]
                    )
                )
            )
        wallet = _wallet(engines[0], card)
    finally:
        for engine in engines:
            engine.dispose()
    ack = json.loads(acks[0])
    if ack.get("status") == "expired":  # hub A resolved it first: the report posts nothing
        assert (hold["status"], resolutions) == ("expired", [("void", PRICE)])
        assert wallet["debits_posted"] == 0
    else:  # hub B posted it: hub A leaves it alone
        assert (ack["posted"], hold["status"], resolutions) == (PRICE, "posted", [("post", PRICE)])
        assert wallet["debits_posted"] == PRICE
    assert wallet["debits_pending"] == 0


def test_the_sweep_and_a_batch_of_taps_on_the_same_cards_never_deadlock(pg_url, monkeypatch, caplog):
    """Hub A sweeps two expired holds, the one on the card with the higher wallet id expiring
    first; meanwhile hub B books a batch tapping both cards. Neither may wait for the other in a
    cycle: the batch is answered without a retry (a deadlock costs it deadlock_timeout, 1 s, and
    a second attempt). Hub A is paused before its second hold, the first one's wallet locked."""
    plan = Fleetplan(devices=1, cards=2, balance=1_000, unit_price=PRICE, site=SITE)
    ((device_id, _key),), cards, _ = prepare(pg_url, plan)
    engines = [make_engine(pg_url), make_engine(pg_url)]
    try:
        device = DeviceDirectory(engines[0]).get(SITE, device_id)
        hub_a, hub_b = Authorizer(engines[0], hold_ttl_s=1), Authorizer(engines[1], hold_ttl_s=1)
        wallets = {uid: _wallet(engines[0], uid)["id"] for uid in cards}
        low, high = sorted(cards, key=wallets.get)
        ids = iter(range(1, 100))

        def tap(card: str) -> Incoming:
            return Incoming(device, topics.TAP, {"id": f"1.0b0b0b0b0b-{next(ids)}", "card": card, "units": 1})

        hub_b.process([tap(high)])
        time.sleep(0.01)  # the hold on the higher wallet expires first
        hub_b.process([tap(low)])
        paused, resume, resolved = threading.Event(), threading.Event(), []
        resolve = Book.resolve

        def pausing_resolve(self, *args, **kw):
            if threading.current_thread().name == "hub-a-sweep":
                resolved.append(args[0])
                if len(resolved) == 2:
                    paused.set()
                    resume.wait(60)
            return resolve(self, *args, **kw)

        monkeypatch.setattr(Book, "resolve", pausing_resolve)
        later = utcnow() + timedelta(seconds=5)
        swept = []
        sweep = threading.Thread(
            target=lambda: swept.append(hub_a.expire(now=later, wait=False)), name="hub-a-sweep"
        )
        replies = []
        booking = threading.Thread(target=lambda: replies.extend(hub_b.process([tap(low), tap(high)])))
        with caplog.at_level(logging.WARNING, logger="tapgift.authorize"):
            sweep.start()
            paused.wait(10)
            booking.start()
            booking.join(0.5)  # it waits for a wallet hub A holds
            resume.set()
            sweep.join(60)
            booking.join(60)
    finally:
        for engine in engines:
            engine.dispose()
    assert swept == [2]
    assert [json.loads(r)["k"] for r in replies] == [m.GRANT, m.GRANT]
    assert [r.getMessage() for r in caplog.records if "retried" in r.getMessage()] == []
