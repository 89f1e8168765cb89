"""Offline vends replayed by controllers (up/report with "off").

A controller that cannot reach the hub may vend on its own (within its limits) and
journals the vend under a request id taken then (the event id, "off"). When the hub
is back, the journal is replayed: the hub books delivered x unit price from the wallet
once per (device, event id). What the wallet cannot cover (or all of it, for a blocked
or unknown card) is booked against the site's offline-loss account and flagged as an
offline overspend for staff to follow up. A repeat (also under a new request id after
a reboot) books nothing and gets the same numbers.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Connection, select

from hub.core.raw import Raw
from hub.ledger import Book, create_account
from hub.tables.taps import OfflineVend

VEND_CODE = "offline_vend"
LOSS_CODE = "offline_loss"
LOSS_KIND = "offline_loss"


OFFLINE_VENDS = OfflineVend.__table__
_COLUMNS = (
    "device_id",
    "event_id",
    "site",
    "request_id",
    "card_uid",
    "units",
    "unit_price",
    "amount",
    "posted",
    "short",
    "overspend",
    "vended_at",
    "booked_at",
)
_INSERT = f"INSERT INTO offline_vends ({', '.join(_COLUMNS)}) VALUES ({','.join('?' * len(_COLUMNS))})"


def loss_account_name(site: str) -> str:
    return f"offline loss {site}"


def reply(request_id: str, posted: int, short: int) -> dict:
    return {"k": "ack", "re": request_id, "posted": posted, "voided": 0, "short": short}


class Replays:
    """The offline vends of one batch (inside its transaction): what was booked before,
    in one query, and the loss accounts of the batch's sites, in another."""

    def __init__(self, book: Book, now: datetime, reports: list):
        self.book, self.raw, self.now = book, book.raw, now
        self.done: dict[tuple[str, str], tuple[int, int]] = {}
        self.loss: dict[tuple[str, str], int] = {}
        self.rows: list[tuple] = []
        if reports:
            self._load_done(self.raw, {(i.device.id, i.body["off"]) for i in reports})
            self._load_loss_accounts(self.raw, {i.device.site for i in reports})

    def _load_done(self, raw: Raw, keys: set[tuple[str, str]]) -> None:
        rows = raw.by_device("offline_vends", "event_id", "t.posted, t.short", keys)
        self.done = {(d, e): (posted, short) for d, e, posted, short in rows}

    def _load_loss_accounts(self, raw: Raw, sites: set[str]) -> None:
        names = sorted(loss_account_name(s) for s in sites)
        rows = raw.rows(
            "SELECT id, ledger, name FROM accounts WHERE kind = ? "
            f"AND name IN ({raw.marks(len(names))}) ORDER BY id",
            [LOSS_KIND] + names,
        )
        for account_id, ledger, name in rows:
            self.loss.setdefault((ledger, name), account_id)
        self.book.load(self.loss.values(), lock=False)

    def _loss_account(self, ledger: str, site: str) -> int:
        key = (ledger, loss_account_name(site))
        if key not in self.loss:  # the site's first overspend on this ledger
            self.loss[key] = create_account(self.book.conn, ledger, LOSS_KIND, key[1], allow_negative=True)
            self.book.load([self.loss[key]], lock=False)
        return self.loss[key]

    def replay(self, item, cards: dict[str, tuple]) -> dict:
        """Book one replayed offline vend (or repeat the numbers booked for it)."""
        body, device = item.body, item.device
        key = (device.id, body["off"])
        if key in self.done:
            return reply(body["id"], *self.done[key])
        amount = body["delivered"] * device.unit_price
        ledger = self.book.account(device.account_id).ledger
        posted, overspend = self._from_wallet(cards.get(body["card"]), amount, ledger)
        short = amount - posted
        tag = f"offline/{device.id}/{body['off']}"
        what = f"offline vend {body['off']}: {body['delivered']} x {device.unit_price} at {device.id}"
        if posted:
            self.book.transfer(
                cards[body["card"]][0], device.account_id, posted, code=VEND_CODE, reason=what, key=tag
            )
        if short:
            self.book.transfer(
                self._loss_account(ledger, device.site),
                device.account_id,
                short,
                code=LOSS_CODE,
                reason=f"{what}, card {body['card']}: {overspend}",
                key=tag + "/short",
            )
        ago = body.get("ago")
        self.rows.append(
            (
                device.id,
                body["off"],
                device.site,
                body["id"],
                body["card"],
                body["delivered"],
                device.unit_price,
                amount,
                posted,
                short,
                overspend,
                None if ago is None else self.raw.when(self.now - timedelta(seconds=ago)),
                self.raw.when(self.now),
            )
        )
        self.done[key] = (posted, short)
        return reply(body["id"], posted, short)

    def _from_wallet(self, card: tuple | None, amount: int, ledger: str) -> tuple[int, str | None]:
        """What the card's wallet pays of amount, and why not all of it (None: it does)."""
        if card is None:
            return 0, "unknown_card"
        wallet, status = card
        if status != "active":
            return 0, "blocked_card"
        account = self.book.account(wallet)
        if account.ledger != ledger:
            return 0, "unknown_card"  # a card of another currency is no card here
        posted = max(0, min(account.spendable, amount))
        return posted, None if posted == amount else "insufficient_funds"

    def write(self) -> None:
        self.raw.many(_INSERT, self.rows)


def overspends(conn: Connection, site: str | None = None, limit: int = 100) -> list[dict]:
    """Offline vends the wallet could not (fully) pay, newest first."""
    query = select(OFFLINE_VENDS).where(OFFLINE_VENDS.c.overspend.is_not(None))
    if site is not None:
        query = query.where(OFFLINE_VENDS.c.site == site)
    rows = conn.execute(
        query.order_by(
            OFFLINE_VENDS.c.booked_at.desc(), OFFLINE_VENDS.c.device_id, OFFLINE_VENDS.c.event_id
        ).limit(limit)
    ).mappings()
    return [dict(r) for r in rows]
