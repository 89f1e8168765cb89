"""A kiosk: balance enquiries (a tap of no units) and unattended top-ups from its
coin/bill acceptor (up/topup), credited once per (kiosk, event id) with the top-up
bonus, through the broker and the hub, on SQLite and PostgreSQL."""

from __future__ import annotations

import logging
import signal
import types

from sqlalchemy import select
from test_end_to_end import RawDevice, card, holds_of, make_card, until
from test_hub_restart import start_hub

from hub.ledger import ACCOUNTS, TRANSFERS
from hub.migrations import open_database as make_engine
from hub.tables.devices import Device
from hub.wallets import cards as wallets
from hub.wallets import cash_desk
from hub.wallets import topup_bonus as promotions
from protocol import messages, topics

DEVICES = Device.__table__


def cash_box(hub, device_id):
    """The kiosk's own account: money counted into its box (it owes the wallets)."""
    with hub.engine.connect() as conn:
        account = conn.execute(select(DEVICES.c.account_id).where(DEVICES.c.id == device_id)).scalar()
        return conn.execute(
            select(ACCOUNTS.c.credits_posted - ACCOUNTS.c.debits_posted).where(ACCOUNTS.c.id == account)
        ).scalar()


def set_tiers(hub, tiers):
    with hub.engine.begin() as conn:
        promotions.set_tiers(conn, "CHF", tiers)


async def ask(raw, kind, body, timeout=5.0):
    await raw.send(kind, body)
    [reply] = await raw.replies(1, timeout)
    return raw.open(reply)


async def test_counted_cash_is_credited_once_with_its_bonus(hub):
    set_tiers(hub, [{"min_amount": 2000, "percent": 5}])
    uid = make_card(hub, 300)
    async with RawDevice(hub, kind="kiosk") as kiosk:
        ack = await ask(kiosk, topics.TOPUP, {"id": "2-5", "ev": "2-1", "card": uid, "amount": 2000})
        assert ack == {
            "k": messages.ACK,
            "re": "2-5",
            "posted": 2000,
            "voided": 0,
            "bonus": 100,
            "balance": 300 + 2000 + 100,
        }
        # The kiosk lost power before the answer came; after the reboot it sends the
        # journaled entry again under a new request id.
        again = await ask(kiosk, topics.TOPUP, {"id": "3-1", "ev": "2-1", "card": uid, "amount": 2000})
        assert (again["re"], again["posted"], again["bonus"], again["balance"]) == ("3-1", 2000, 100, 2400)
        # A new session (event) below the tier: no bonus.
        small = await ask(kiosk, topics.TOPUP, {"id": "3-2", "ev": "3-2", "card": uid, "amount": 500})
        assert (small["bonus"], small["balance"]) == (0, 2900)
    assert card(hub, uid)["balance"] == 2900
    assert cash_box(hub, kiosk.id) == -2500
    with hub.engine.connect() as conn:
        codes = sorted(
            conn.execute(
                select(TRANSFERS.c.code, TRANSFERS.c.amount).where(
                    TRANSFERS.c.idempotency_key.like(f"kiosk/{kiosk.id}/%")
                )
            ).all()
        )
    assert codes == [("kiosk_topup", 500), ("kiosk_topup", 2000), (promotions.BONUS_CODE, 100)]


async def test_a_blocked_card_is_credited_an_unknown_one_or_a_non_kiosk_is_an_error(hub, caplog):
    blocked = make_card(hub, 0, status="blocked")
    async with RawDevice(hub, kind="kiosk") as kiosk:
        ack = await ask(kiosk, topics.TOPUP, {"id": "1-2", "ev": "1-1", "card": blocked, "amount": 700})
        assert (ack["k"], ack["posted"], ack["balance"]) == (messages.ACK, 700, 700)
        with caplog.at_level(logging.ERROR, logger="tapgift.kiosk"):
            error = await ask(
                kiosk, topics.TOPUP, {"id": "1-4", "ev": "1-3", "card": "FEEDF00D77", "amount": 200}
            )
            await until(lambda: "FEEDF00D77" in caplog.text)
        assert error == {"k": messages.ERROR, "re": "1-4", "code": messages.UNKNOWN_CARD}
    async with RawDevice(hub) as dispenser:  # no cash box: it may not credit anyone
        refused = await ask(
            dispenser, topics.TOPUP, {"id": "1-2", "ev": "1-1", "card": blocked, "amount": 700}
        )
        assert (refused["k"], refused["code"]) == (messages.ERROR, messages.BAD_REQUEST)
    assert card(hub, blocked)["balance"] == 700
    assert cash_box(hub, kiosk.id) == -700
    assert cash_box(hub, dispenser.id) == 0


async def test_cash_on_a_debit_card_pays_its_debt_without_a_bonus(hub):
    set_tiers(hub, [{"min_amount": 100, "percent": 10}])
    with hub.engine.begin() as conn:
        uid = wallets.issue_card(conn, "CHF", kind="debit", credit_limit=5000)["uid"]
    async with RawDevice(hub) as dispenser:  # 2.50 drunk on credit
        grant = await ask(dispenser, topics.TAP, {"id": "1-1", "card": uid, "units": 1})
        await ask(dispenser, topics.REPORT, {"id": "1-2", "hold": grant["hold"], "delivered": 1})
    assert card(hub, uid)["balance"] == -250
    async with RawDevice(hub, kind="kiosk") as kiosk:
        ack = await ask(kiosk, topics.TOPUP, {"id": "1-2", "ev": "1-1", "card": uid, "amount": 300})
    assert (ack["posted"], ack["bonus"], ack["balance"]) == (300, 0, 50)
    with hub.engine.connect() as conn:
        codes = (
            conn.execute(
                select(TRANSFERS.c.code).where(TRANSFERS.c.idempotency_key.like(f"kiosk/{kiosk.id}/%"))
            )
            .scalars()
            .all()
        )
    assert codes == [cash_desk.SETTLEMENT_CODE]


async def test_a_balance_enquiry_books_nothing(hub):
    uid = make_card(hub, 1234)
    blocked = make_card(hub, 50, status="blocked")
    async with RawDevice(hub, kind="kiosk") as kiosk:
        ack = await ask(kiosk, topics.TAP, {"id": "4-1", "card": uid, "units": 0})
        assert ack == {"k": messages.ACK, "re": "4-1", "posted": 0, "voided": 0, "balance": 1234}
        unknown = await ask(kiosk, topics.TAP, {"id": "4-2", "card": "ABABABAB", "units": 0})
        assert (unknown["k"], unknown["code"]) == (messages.DENY, messages.UNKNOWN_CARD)
        lost = await ask(kiosk, topics.TAP, {"id": "4-3", "card": blocked, "units": 0})
        assert (lost["k"], lost["code"]) == (messages.DENY, messages.BLOCKED_CARD)
    assert holds_of(hub, kiosk.id) == []
    assert card(hub, uid) == {**card(hub, uid), "balance": 1234, "held": 0}
    assert cash_box(hub, kiosk.id) == 0


async def test_a_top_up_sent_again_after_the_hub_was_killed_is_credited_once(db_url, broker, tmp_path):
    engine = make_engine(db_url)
    hub = types.SimpleNamespace(
        engine=engine, bridge=types.SimpleNamespace(mqtt={"hostname": broker.host, "port": broker.port})
    )
    uid = make_card(hub, 0)
    proc = start_hub(db_url, broker, tmp_path / "hub.log")
    try:
        async with RawDevice(hub, kind="kiosk") as kiosk:
            first = await ask(kiosk, topics.TOPUP, {"id": "1-2", "ev": "1-1", "card": uid, "amount": 1000})
            proc.send_signal(signal.SIGKILL)
            proc.wait(10)
            proc = start_hub(db_url, broker, tmp_path / "hub.log")
            again = await ask(
                kiosk, topics.TOPUP, {"id": "2-1", "ev": "1-1", "card": uid, "amount": 1000}, timeout=30
            )
        assert (first["posted"], first["balance"]) == (1000, 1000)
        assert (again["re"], again["posted"], again["balance"]) == ("2-1", 1000, 1000)
        assert card(hub, uid)["balance"] == 1000
        assert cash_box(hub, kiosk.id) == -1000
    finally:
        proc.terminate()
        proc.wait(10)
        engine.dispose()
