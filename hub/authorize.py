"""Authorisation of controller requests, a batch at a time in one transaction.

A tap becomes a hold (wallet -> machine, pending) and a grant; a delivery
report posts what was delivered and voids the rest. Every answer is stored
with the device's request id in the same transaction, so a repeated request
(QoS 1 redelivery, a retry after a power cut) gets the original answer and
books nothing new. Nothing is answered before the transaction commits.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sqlalchemy import Connection, Engine, select, update
from sqlalchemy.exc import DBAPIError, IntegrityError

from hub.devices import DeviceInfo
from hub.ledger import Book, InsufficientFunds, new_id
from hub.models import Hold, utcnow
from protocol import messages as m
from protocol import topics

log = logging.getLogger("tapgift.authorize")

HOLDS = Hold.__table__


@dataclass
class Incoming:
    device: DeviceInfo
    kind: str  # topics.TAP or topics.REPORT
    body: dict

    @property
    def key(self) -> tuple[str, str]:
        return (self.device.id, self.body["id"])


class Authorizer:
    def __init__(self, engine: Engine, hold_ttl_s: int = 600, retries: int = 5):
        self.engine = engine
        self.hold_ttl = timedelta(seconds=hold_ttl_s)
        self.retries = retries

    def process(self, batch: list[Incoming]) -> list[bytes]:
        """Answer every request of the batch (reply bodies, in order), committed first."""
        for attempt in range(self.retries):
            try:
                with self.engine.begin() as conn:
                    return _Run(conn, self.hold_ttl).answer(batch)
            except (IntegrityError, DBAPIError) as exc:
                # Another hub process answered one of these ids first, or the
                # database chose us as a serialization victim: try again; the
                # stored answers then come out of the dedupe lookup.
                if attempt == self.retries - 1:
                    raise
                log.warning("batch of %d retried: %s", len(batch), exc.__class__.__name__)
        raise AssertionError("unreachable")

    def expire(self, now: datetime | None = None, limit: int = 1000) -> int:
        """Void holds whose device never reported; returns how many."""
        now = now or utcnow()
        with self.engine.begin() as conn:
            rows = conn.execute(select(HOLDS).where(
                HOLDS.c.status == "pending", HOLDS.c.expires_at < now,
            ).order_by(HOLDS.c.expires_at).limit(limit)).mappings().all()
            if not rows:
                return 0
            book = Book(conn)
            for hold in rows:
                book.resolve(hold["id"], hold["wallet_account_id"], hold["machine_account_id"],
                             held=hold["amount"],
                             post=0, code="hold_expired",
                             reason=f"no delivery report from {hold['device_id']} in time",
                             key=f"expire/{hold['id']}")
            conn.execute(update(HOLDS).where(HOLDS.c.id.in_([h["id"] for h in rows])).values(
                status="expired", resolved_at=now))
            book.flush()
        return len(rows)


# A timed machine (billiard) reports when its session ends, after the time
# bought and any extensions tapped on top: its holds wait that long as well.
_SESSION_SLACK = timedelta(hours=2)
_TIMED_KINDS = ("billiard",)


def hold_lifetime(kind: str, units: int, ttl: timedelta) -> timedelta:
    """How long a hold waits for its delivery report before it is voided."""
    if kind in _TIMED_KINDS:
        return ttl + timedelta(minutes=units) + _SESSION_SLACK
    return ttl


_HOLD_COLUMNS = ("id", "device_id", "request_id", "card_uid", "wallet_account_id",
                 "machine_account_id", "units", "unit_price", "amount", "status", "posted",
                 "expires_at", "resolved_at")
_INSERT_HOLD = (f"INSERT INTO holds ({', '.join(_HOLD_COLUMNS)}) "
                f"VALUES ({','.join('?' * len(_HOLD_COLUMNS))})")
_RESOLVE_HOLD = "UPDATE holds SET status = ?, posted = ?, resolved_at = ? WHERE id = ?"
_INSERT_ANSWER = ("INSERT INTO device_requests (device_id, request_id, reply, created_at) "
                  "VALUES (?,?,?,?)")


class _Run:
    """One attempt at one batch inside one transaction (driver-level SQL: the hot path)."""

    def __init__(self, conn: Connection, hold_ttl: timedelta):
        self.book = Book(conn)
        self.raw = self.book.raw
        self.hold_ttl = hold_ttl
        self.now = utcnow()
        self.answers: dict[tuple[str, str], bytes] = {}
        self.new_answers: list[tuple] = []
        self.new_holds: list[tuple] = []
        self.resolved: dict[str, dict] = {}

    def answer(self, batch: list[Incoming]) -> list[bytes]:
        self._load_known_answers(batch)
        cards = self._load_cards([i.body["card"] for i in batch if i.kind == topics.TAP])
        holds = self._load_holds([i for i in batch if i.kind == topics.REPORT])
        # Accounts money only enters (machines) or that a report can only
        # release: read in one query, without a lock.
        self.book.load([i.device.account_id for i in batch]
                       + [h[c] for h in holds.values()
                          for c in ("wallet_account_id", "machine_account_id")], lock=False)
        for item in batch:
            if item.key not in self.answers:
                reply = self._tap(item, cards) if item.kind == topics.TAP else self._report(item, holds)
                self._remember(item, reply)
        self._write()
        return [self.answers[item.key] for item in batch]

    def _in(self, values) -> tuple[str, list]:
        values = list(values)
        return f"({self.raw.marks(len(values))})", values

    def _load_known_answers(self, batch: list[Incoming]) -> None:
        keys = {item.key for item in batch}
        # Two plain IN lists use the (device_id, request_id) index on both
        # databases; the few extra pairs they match are filtered out here.
        devices, device_ids = self._in({k[0] for k in keys})
        requests, request_ids = self._in({k[1] for k in keys})
        rows = self.raw.rows("SELECT device_id, request_id, reply FROM device_requests "
                             f"WHERE device_id IN {devices} AND request_id IN {requests}",
                             device_ids + request_ids)
        for device_id, request_id, reply in rows:
            if (device_id, request_id) in keys:
                self.answers[(device_id, request_id)] = bytes(reply)

    def _load_cards(self, uids: list[str]) -> dict[str, tuple]:
        if not uids:
            return {}
        marks, params = self._in(set(uids))
        rows = self.raw.rows(f"SELECT uid, account_id, status FROM cards WHERE uid IN {marks}",
                             params)
        self.book.load([r[1] for r in rows], lock=True)
        return {uid: (account_id, status) for uid, account_id, status in rows}

    def _load_holds(self, reports: list[Incoming]) -> dict[str, dict]:
        if not reports:
            return {}
        marks, params = self._in({i.body["hold"] for i in reports})
        rows = self.raw.rows(f"SELECT {', '.join(_HOLD_COLUMNS)} FROM holds WHERE id IN {marks}"
                             + self.raw.lock(), params)
        return {r[0]: dict(zip(_HOLD_COLUMNS, r)) for r in rows}

    def _tap(self, item: Incoming, cards: dict[str, tuple]) -> dict:
        body, device = item.body, item.device
        if body["card"] not in cards:
            return _deny(body, m.UNKNOWN_CARD)
        wallet, status = cards[body["card"]]
        if status != "active":
            return _deny(body, m.BLOCKED_CARD)
        amount = body["units"] * device.unit_price
        hold_id = new_id()
        try:
            self.book.transfer(wallet, device.account_id, amount, code="tap_hold",
                               reason=f"{body['units']} x {device.unit_price} at {device.id}",
                               key=f"{device.id}/{body['id']}", pending=True, transfer_id=hold_id)
        except InsufficientFunds:
            return _deny(body, m.INSUFFICIENT_FUNDS, self.book.account(wallet).available)
        self.new_holds.append((
            hold_id, device.id, body["id"], body["card"], wallet, device.account_id,
            body["units"], device.unit_price, amount, "pending", 0,
            self.raw.when(self.now + hold_lifetime(device.kind, body["units"], self.hold_ttl)),
            None,
        ))
        return {"k": m.GRANT, "re": body["id"], "hold": hold_id, "units": body["units"],
                "amount": amount, "balance": self.book.account(wallet).available}

    def _report(self, item: Incoming, holds: dict[str, dict]) -> dict:
        body, device = item.body, item.device
        hold = holds.get(body["hold"])
        if hold is None or hold["device_id"] != device.id:
            return {"k": m.ERROR, "re": body["id"], "code": m.UNKNOWN_HOLD}
        if hold["status"] != "pending":
            # Resolved already (a second report, or it expired): never twice.
            return {"k": m.ACK, "re": body["id"], "posted": hold["posted"],
                    "voided": hold["amount"] - hold["posted"], "status": hold["status"]}
        delivered = min(body["delivered"], hold["units"])
        post = delivered * hold["unit_price"]
        self.book.resolve(hold["id"], hold["wallet_account_id"], hold["machine_account_id"],
                          held=hold["amount"], post=post,
                          code="tap_delivered",
                          reason=f"{delivered} of {hold['units']} delivered at {device.id}",
                          key=f"{device.id}/{body['id']}")
        hold.update(status="posted" if post else "voided", posted=post)
        self.resolved[hold["id"]] = hold
        return {"k": m.ACK, "re": body["id"], "posted": post, "voided": hold["amount"] - post}

    def _remember(self, item: Incoming, reply: dict) -> None:
        encoded = m.encode(reply)
        self.answers[item.key] = encoded
        self.new_answers.append((item.device.id, item.body["id"], encoded, self.raw.when(self.now)))

    def _write(self) -> None:
        self.raw.many(_INSERT_HOLD, self.new_holds)
        self.raw.many(_RESOLVE_HOLD, [(h["status"], h["posted"], self.raw.when(self.now), h["id"])
                                      for h in self.resolved.values()])
        self.book.flush()
        self.raw.many(_INSERT_ANSWER, self.new_answers)


def _deny(body: dict, code: str, balance: int | None = None) -> dict:
    reply = {"k": m.DENY, "re": body["id"], "code": code}
    if balance is not None:
        reply["balance"] = balance
    return reply
