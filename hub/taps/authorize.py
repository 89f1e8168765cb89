"""Authorisation of controller requests, a batch at a time in one transaction.

A tap becomes a hold (wallet -> machine, pending) and a grant; a delivery
report posts what was delivered and voids the rest. A tap of no units asks
for the balance; a report with "off" replays a vend made offline
(hub/taps/offline_vends.py); a kiosk's top-up credits counted cash (hub/taps/kiosk_topups.py); a
card registered for SUN must prove itself with a fresh SUN message
(hub/taps/sun.py). Every answer is stored
with the device's request id and a fingerprint of the request in the same
transaction, so a repeated request (QoS 1 redelivery, a retry after a power
cut) gets the original answer and books nothing new; the same id with another
request (a replaced board or an erased flash counting its ids again) gets no
stored answer but an error "id_reused", is kept in device_request_conflicts
and books nothing. Nothing is answered before the transaction commits.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, Engine, select, update
from sqlalchemy.exc import DBAPIError, IntegrityError

from hub.core.clock import utcnow
from hub.devices.registry import DeviceInfo
from hub.ledger import Book, InsufficientFunds, bulk, new_id
from hub.ledger.requests import fingerprint
from hub.tables.taps import DeviceRequest, DeviceRequestConflict, Hold
from hub.taps import device_loyalty, sun
from hub.taps.kiosk_topups import TopUps
from hub.taps.offline_vends import Replays
from hub.wallets.cards import canonical_uid
from protocol import messages as m
from protocol import topics

log = logging.getLogger("tapgift.authorize")

HOLDS = Hold.__table__
ANSWERS = DeviceRequest.__table__
CONFLICTS = DeviceRequestConflict.__table__


@dataclass
class Incoming:
    device: DeviceInfo
    kind: str  # topics.TAP, topics.REPORT or topics.TOPUP
    body: dict

    def __post_init__(self) -> None:
        # The card as the hub keeps it (hub.wallets.cards.canonical_uid), for every look-up of
        # it below: wallet, SUN keys, loyalty, offline vend, kiosk top-up, the fingerprint.
        card = self.body.get("card")
        if isinstance(card, str) and card != (canonical := canonical_uid(card)):
            self.body = {**self.body, "card": canonical}

    @property
    def key(self) -> tuple[str, str]:
        return (self.device.id, self.body["id"])

    @property
    def fingerprint(self) -> str:
        """What the request asks, whatever the order of its fields: the same id with another
        fingerprint is another request."""
        return fingerprint([self.kind, self.body])


class Authorizer:
    def __init__(
        self, engine: Engine, hold_ttl_s: int = 600, retries: int = 5, keep_connection: bool = False
    ):
        """keep_connection: the thread that books batches (the bridge's own thread) keeps one
        connection for all of them instead of taking it from the pool per batch: a pool
        checkout, its return and (PostgreSQL) its liveness ping cost the hub about as much
        CPU as a small batch's own statements. close() gives it back."""
        self.engine = engine
        self.hold_ttl = timedelta(seconds=hold_ttl_s)
        self.retries = retries
        self.keep_connection = keep_connection
        self._kept: Connection | None = None
        self._kept_by: int | None = None

    def process(self, batch: list[Incoming]) -> list[bytes]:
        """Answer every request of the batch (reply bodies, in order), committed first."""
        # The hot path writes through the driver's own cursor (hub.core.raw), whose errors
        # SQLAlchemy does not wrap: a unique key another hub committed first is the driver's
        # IntegrityError, a deadlock or serialization failure its OperationalError.
        dbapi = self.engine.dialect.loaded_dbapi
        retryable = (IntegrityError, DBAPIError, dbapi.IntegrityError, dbapi.OperationalError)
        for attempt in range(self.retries):
            try:
                return self._in_transaction(batch)
            except retryable as exc:
                # Another hub process answered one of these ids first, or the
                # database chose us as a serialization victim: try again; the
                # stored answers then come out of the dedupe lookup.
                if attempt == self.retries - 1:
                    raise
                log.warning("batch of %d retried: %s", len(batch), exc.__class__.__name__)
        raise AssertionError("unreachable")

    def _in_transaction(self, batch: list[Incoming]) -> list[bytes]:
        conn = self._connection()
        if conn is None:
            with self.engine.begin() as conn:
                return _Run(conn, self.hold_ttl).answer(batch)
        dbapi = self.engine.dialect.loaded_dbapi
        try:
            with conn.begin():
                return _Run(conn, self.hold_ttl).answer(batch)
        except (IntegrityError, dbapi.IntegrityError):
            raise  # rolled back on a sound connection: another hub answered first
        except BaseException:
            # Rolled back, but the connection may be broken (a database restart) and the
            # driver's own errors do not tell SQLAlchemy so: the next batch takes a fresh one.
            self._drop()
            raise

    def _connection(self) -> Connection | None:
        """The kept connection when this thread keeps one, else None (take one per batch)."""
        if not self.keep_connection:
            return None
        me = threading.get_ident()
        if self._kept is None:
            self._kept, self._kept_by = self.engine.connect(), me
        return self._kept if self._kept_by == me else None

    def _drop(self) -> None:
        kept, self._kept, self._kept_by = self._kept, None, None
        if kept is not None:
            kept.invalidate()
            kept.close()

    def close(self) -> None:
        """Give the kept connection back to the pool."""
        kept, self._kept, self._kept_by = self._kept, None, None
        if kept is not None:
            kept.close()

    def expire(self, now: datetime | None = None, limit: int = 1000, wait: bool = True) -> int:
        """Void holds whose device never reported; returns how many. On PostgreSQL one
        process sweeps at a time: wait=False skips the round if another is sweeping (the
        bridge's periodic sweep, which must not hold up its batches)."""
        now = now or utcnow()
        with self.engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                if not wait:
                    if not conn.exec_driver_sql(f"SELECT pg_try_advisory_xact_lock({_EXPIRY_LOCK})").scalar():
                        return 0  # several hubs on one database: another is sweeping right now
                else:
                    conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_EXPIRY_LOCK})")
            due = conn.execute(
                select(HOLDS.c.id, HOLDS.c.wallet_account_id, HOLDS.c.machine_account_id)
                .where(HOLDS.c.status == "pending", HOLDS.c.expires_at < now)
                .order_by(HOLDS.c.expires_at)
                .limit(limit)
            ).all()
            if not due:
                return 0
            book = Book(conn)
            # Locks in the order a batch of taps takes them (wallets in id order, then the holds
            # in id order), or the two deadlock; and the holds read again under their lock, so
            # one a report resolved meanwhile (through another hub) is not voided as well.
            book.load(sorted({h.wallet_account_id for h in due}), lock=True)
            book.load({h.machine_account_id for h in due}, lock=False)
            rows = (
                conn.execute(
                    select(HOLDS)
                    .where(HOLDS.c.id.in_([h.id for h in due]), HOLDS.c.status == "pending")
                    .order_by(HOLDS.c.id)
                    .with_for_update()
                )
                .mappings()
                .all()
            )
            if not rows:
                return 0
            for hold in rows:
                book.resolve(
                    hold["id"],
                    hold["wallet_account_id"],
                    hold["machine_account_id"],
                    held=hold["amount"],
                    post=0,
                    code="hold_expired",
                    reason=f"no delivery report from {hold['device_id']} in time",
                    key=f"expire/{hold['id']}",
                )
            conn.execute(
                update(HOLDS)
                .where(HOLDS.c.id.in_([h["id"] for h in rows]))
                .values(status="expired", resolved_at=now)
            )
            device_loyalty.release_expired(book, [h["id"] for h in rows])
            book.flush()
        return len(rows)


# The PostgreSQL advisory lock the hold sweep takes, so that of several hubs on one
# database one sweeps at a time (the others skip that round) and no hold is voided twice.
_EXPIRY_LOCK = 0x7467_6578  # "tgex"


# A timed machine (billiard) reports when its session ends, after the time
# bought and any extensions tapped on top: its holds wait that long as well.
_SESSION_SLACK = timedelta(hours=2)
_TIMED_KINDS = ("billiard",)


def hold_lifetime(kind: str, units: int, ttl: timedelta) -> timedelta:
    """How long a hold waits for its delivery report before it is voided."""
    if kind in _TIMED_KINDS:
        return ttl + timedelta(minutes=units) + _SESSION_SLACK
    return ttl


_HOLD_COLUMNS = (
    "id",
    "device_id",
    "request_id",
    "card_uid",
    "wallet_account_id",
    "machine_account_id",
    "units",
    "unit_price",
    "amount",
    "status",
    "posted",
    "expires_at",
    "resolved_at",
)
_ANSWER_COLUMNS = ("device_id", "request_id", "reply", "fingerprint", "created_at")
_CONFLICT_COLUMNS = ("device_id", "request_id", "kind", "fingerprint", "created_at")
_RESOLVED_COLUMNS = ("status", "posted", "resolved_at")


class _Run:
    """One attempt at one batch inside one transaction (driver-level SQL: the hot path)."""

    def __init__(self, conn: Connection, hold_ttl: timedelta):
        self.now = utcnow()
        # One moment for the whole batch (its transfers too), converted for the column once.
        self.book = Book(conn, now=self.now)
        self.raw = self.book.raw
        self.stamp = self.raw.when(self.now)
        self.hold_ttl = hold_ttl
        self.answers: dict[tuple[str, str], bytes] = {}
        self.fingerprints: dict[tuple[str, str], str | None] = {}
        self.new_answers: list[tuple] = []
        self.conflicts: list[tuple] = []
        self.new_holds: list[tuple] = []
        self.resolved: dict[str, dict] = {}
        self.sun_counters: dict[str, int] = {}

    def answer(self, batch: list[Incoming]) -> list[bytes]:
        self._load_known_answers(batch)
        reports = [i for i in batch if i.kind == topics.REPORT and "hold" in i.body]
        # The machines' accounts (money only enters them: never locked) are read in the same
        # statement as the wallets, one round trip less per batch.
        cards = self._load_cards(
            [i.body["card"] for i in batch if "card" in i.body],
            self._hold_wallets(reports) + [i.device.account_id for i in batch],
        )
        holds = self._load_holds(reports)
        # After the wallets are locked: the counters cannot change under us. Read only for
        # cards registered for SUN (none, mostly: no query at all then).
        self.sun_keys = sun.load(
            self.raw,
            [i.body["card"] for i in batch if i.kind == topics.TAP and i.body["card"] in self.sun_cards],
        )
        self.offline = Replays(self.book, self.now, [i for i in batch if "off" in i.body])
        self.kiosk = TopUps(self.book, self.now, [i for i in batch if i.kind == topics.TOPUP])
        self.loyalty = device_loyalty.Batch(self.book, batch, self.now)
        # Accounts money only enters (machines) or that a report can only
        # release: read in one query, without a lock.
        self.book.load(
            [i.device.account_id for i in batch]
            + [h[c] for h in holds.values() for c in ("wallet_account_id", "machine_account_id")],
            lock=False,
        )
        replies = []
        for item in batch:
            digest = item.fingerprint
            if item.key not in self.answers:
                self._remember(item, digest, self._dispatch(item, cards, holds))
            elif self.fingerprints[item.key] not in (digest, None):  # None: stored before fingerprints
                replies.append(self._refuse_reused(item, digest))
                continue
            replies.append(self.answers[item.key])
        self._write()
        return replies

    def _in(self, values) -> tuple[str, list]:
        values = list(values)
        return f"({self.raw.marks(len(values))})", values

    def _load_known_answers(self, batch: list[Incoming]) -> None:
        rows = self.raw.by_device(
            "device_requests", "request_id", "t.reply, t.fingerprint", {item.key for item in batch}
        )
        for device_id, request_id, reply, digest in rows:
            self.answers[(device_id, request_id)] = bytes(reply)
            self.fingerprints[(device_id, request_id)] = digest

    def _hold_wallets(self, reports: list[Incoming]) -> list[int]:
        """PostgreSQL, where several hubs book at once: the wallets the batch's reports will
        post to, so they are locked with the cards' wallets in one pass in id order, before
        the holds. Locked later (at the flush, after the holds) they would let two hubs each
        hold what the other waits for: one has a wallet locked for a tap and waits for a hold,
        the other has that hold and waits for the wallet to post to it."""
        if not reports or not self.raw.pg:
            return []
        marks, params = self._in({i.body["hold"] for i in reports})
        return [
            r[0] for r in self.raw.rows(f"SELECT wallet_account_id FROM holds WHERE id IN {marks}", params)
        ]

    def _load_cards(self, uids: list[str], also: list[int] = ()) -> dict[str, tuple]:
        """The cards, their wallets locked; `also`: more accounts read in the same statement
        (Book.load locks only those that cannot go negative)."""
        rows = []
        if uids:
            marks, params = self._in(set(uids))
            rows = self.raw.rows(
                "SELECT c.uid, c.account_id, c.status, s.uid IS NOT NULL FROM cards c"
                f" LEFT JOIN card_sun s ON s.uid = c.uid WHERE c.uid IN {marks}",
                params,
            )
        self.book.load([r[1] for r in rows] + list(also), lock=True)
        self.sun_cards = {uid for uid, _, _, has_sun in rows if has_sun}
        return {uid: (account_id, status) for uid, account_id, status, _ in rows}

    def _load_holds(self, reports: list[Incoming]) -> dict[str, dict]:
        if not reports:
            return {}
        marks, params = self._in({i.body["hold"] for i in reports})
        rows = self.raw.rows(
            f"SELECT {', '.join(_HOLD_COLUMNS)} FROM holds WHERE id IN {marks} ORDER BY id" + self.raw.lock(),
            params,
        )
        return {r[0]: dict(zip(_HOLD_COLUMNS, r, strict=True)) for r in rows}

    def _dispatch(self, item: Incoming, cards: dict[str, tuple], holds: dict[str, dict]) -> dict:
        if item.kind == topics.TOPUP:
            return self.kiosk.top_up(item, cards)
        if item.kind == topics.REPORT:
            return self.offline.replay(item, cards) if "off" in item.body else self._report(item, holds)
        refused = self._check_sun(item.body)
        if refused is not None:
            return refused
        if item.body["units"] == 0:
            return self._enquiry(item, cards)
        return self._tap(item, cards)

    def _check_sun(self, body: dict) -> dict | None:
        """A deny for a card registered for SUN without a fresh, valid SUN message."""
        keys = self.sun_keys.get(body["card"])
        if keys is None:
            return None  # a UID-only card (or an unknown one: _tap/_enquiry deny it)
        try:
            counter = sun.check(body.get("sun"), body["card"], keys)
        except sun.BadSun as exc:
            log.warning("tap refused, card %s: %s", body["card"], exc)
            return _deny(body, m.BAD_SUN)
        keys.last_counter = self.sun_counters[body["card"]] = counter
        return None

    def _enquiry(self, item: Incoming, cards: dict[str, tuple]) -> dict:
        """A balance enquiry (a kiosk): books nothing."""
        body = item.body
        if body["card"] not in cards:
            return _deny(body, m.UNKNOWN_CARD)
        wallet, status = cards[body["card"]]
        if status != "active":
            return _deny(body, m.BLOCKED_CARD)
        return {
            "k": m.ACK,
            "re": body["id"],
            "posted": 0,
            "voided": 0,
            "balance": self.book.account(wallet).available,
        }

    def _tap(self, item: Incoming, cards: dict[str, tuple]) -> dict:
        body, device = item.body, item.device
        if body["card"] not in cards:
            return _deny(body, m.UNKNOWN_CARD)
        wallet, status = cards[body["card"]]
        if status != "active":
            return _deny(body, m.BLOCKED_CARD)
        hold_id = new_id()
        # The card's discount on a machine with loyalty settings; a gift held instead: (1, 0).
        units, unit_price = self.loyalty.price(item, hold_id)
        amount = units * unit_price
        try:
            if amount:
                self.book.transfer(
                    wallet,
                    device.account_id,
                    amount,
                    code="tap_hold",
                    reason=f"{units} x {unit_price} at {device.id}",
                    key=f"{device.id}/{body['id']}",
                    pending=True,
                    transfer_id=hold_id,
                )
        except InsufficientFunds:
            self.loyalty.refused(hold_id)
            return _deny(body, m.INSUFFICIENT_FUNDS, self.book.account(wallet).available)
        self.new_holds.append(
            (
                hold_id,
                device.id,
                body["id"],
                body["card"],
                wallet,
                device.account_id,
                units,
                unit_price,
                amount,
                "pending",
                0,
                self.raw.when(self.now + hold_lifetime(device.kind, units, self.hold_ttl)),
                None,
            )
        )
        return {
            "k": m.GRANT,
            "re": body["id"],
            "hold": hold_id,
            "units": units,
            "amount": amount,
            "balance": self.book.account(wallet).available,
        }

    def _report(self, item: Incoming, holds: dict[str, dict]) -> dict:
        body, device = item.body, item.device
        hold = holds.get(body["hold"])
        if hold is None or hold["device_id"] != device.id:
            return {"k": m.ERROR, "re": body["id"], "code": m.UNKNOWN_HOLD}
        if hold["status"] != "pending":
            # Resolved already (a second report, or it expired): never twice.
            return {
                "k": m.ACK,
                "re": body["id"],
                "posted": hold["posted"],
                "voided": hold["amount"] - hold["posted"],
                "status": hold["status"],
            }
        delivered = min(body["delivered"], hold["units"])
        post = delivered * hold["unit_price"]
        self.book.resolve(
            hold["id"],
            hold["wallet_account_id"],
            hold["machine_account_id"],
            held=hold["amount"],
            post=post,
            code="tap_delivered",
            reason=f"{delivered} of {hold['units']} delivered at {device.id}",
            key=f"{device.id}/{body['id']}",
        )
        # delivered, not post: a free tap (a gift, 100 % discount) that delivered is posted too.
        hold.update(status="posted" if delivered else "voided", posted=post)
        self.resolved[hold["id"]] = hold
        self.loyalty.report(item, hold, delivered)
        return {"k": m.ACK, "re": body["id"], "posted": post, "voided": hold["amount"] - post}

    def _remember(self, item: Incoming, digest: str, reply: dict) -> None:
        encoded = m.encode(reply)
        self.answers[item.key] = encoded
        self.fingerprints[item.key] = digest
        self.new_answers.append((item.device.id, item.body["id"], encoded, digest, self.stamp))

    def _refuse_reused(self, item: Incoming, digest: str) -> bytes:
        """Another request under an id already answered: the stored answer is not its answer
        (a stored grant would move the relay again), so it is refused, kept and books nothing."""
        log.warning(
            "request %s of %s refused: the id was used before for another request (%s)",
            item.body["id"],
            item.device.id,
            item.kind,
        )
        self.conflicts.append((item.device.id, item.body["id"], item.kind, digest, self.stamp))
        return m.encode({"k": m.ERROR, "re": item.body["id"], "code": m.ID_REUSED})

    def _write(self) -> None:
        """Everything the batch books (hub.ledger.bulk: on PostgreSQL one statement a table,
        all of them in one pipeline)."""
        # The loyalty side's writes read as they go (SQLAlchemy statements that wait for their
        # rows, which a pipeline does not give them): before it.
        self.loyalty.write()
        with self.raw.pipeline():
            self._write_rows()

    def _write_rows(self) -> None:
        bulk.insert(self.raw, HOLDS, _HOLD_COLUMNS, self.new_holds)
        bulk.update(
            self.raw,
            HOLDS,
            "id",
            _RESOLVED_COLUMNS,
            [(h["status"], h["posted"], self.stamp, h["id"]) for h in self.resolved.values()],
        )
        self.book.flush()
        sun.store_counters(self.raw, self.sun_counters, self.now)
        self.offline.write()
        self.kiosk.write()
        bulk.insert(self.raw, ANSWERS, _ANSWER_COLUMNS, self.new_answers)
        bulk.insert(self.raw, CONFLICTS, _CONFLICT_COLUMNS, self.conflicts)


def _deny(body: dict, code: str, balance: int | None = None) -> dict:
    reply = {"k": m.DENY, "re": body["id"], "code": code}
    if balance is not None:
        reply["balance"] = balance
    return reply
