"""Kiosk top-ups (up/topup): cash a kiosk counted from its coin/bill acceptor, credited
to the tapped card from the kiosk's cash box (the device's own account) with the
top-up bonus of its site's tiers (hub/wallets/topup_bonus.py), once per (device, event id). The event
id is taken when the first coin of a card session is counted and kept on the kiosk's
flash, so money counted before a power cut is credited once, under whatever request
id the kiosk sends it again. A blocked card is credited too: it is the visitor's money.
Cash on a debit card settles what it owes, without a bonus (what is over stays as credit).
"""

from __future__ import annotations

import logging
from datetime import datetime

from hub.core.raw import Raw
from hub.ledger import Book, system_account
from hub.wallets import topup_bonus
from hub.wallets.cash_desk import SETTLEMENT_CODE

log = logging.getLogger("tapgift.kiosk")

TOPUP_CODE = "kiosk_topup"
KIOSK = "kiosk"  # the device kind that may send top-ups


_COLUMNS = ("device_id", "event_id", "request_id", "card_uid", "amount", "bonus", "transfer_id", "booked_at")
_INSERT = f"INSERT INTO kiosk_topups ({', '.join(_COLUMNS)}) VALUES ({','.join('?' * len(_COLUMNS))})"


class TopUps:
    """The kiosk top-ups of one batch (inside its transaction); those booked before are
    read in one query."""

    def __init__(self, book: Book, now: datetime, items: list):
        self.book, self.raw, self.now = book, book.raw, now
        self.done: dict[tuple[str, str], tuple[int, int]] = {}
        self.tiers: dict[tuple[str, str], list] = {}
        self.bonus_source: dict[str, int] = {}
        self.rows: list[tuple] = []
        if items:
            self._load_done(self.raw, {(i.device.id, i.body["ev"]) for i in items})

    def _load_done(self, raw: Raw, keys: set[tuple[str, str]]) -> None:
        rows = raw.by_device("kiosk_topups", "event_id", "t.amount, t.bonus", keys)
        self.done = {(d, e): (amount, bonus) for d, e, amount, bonus in rows}

    def top_up(self, item, cards: dict[str, tuple]) -> dict:
        body, device = item.body, item.device
        if device.kind != KIOSK:
            # Crediting a wallet from the device's own account mints money: only a
            # kiosk (which has a cash box) may, not a dispenser whose key leaked.
            log.error("device %s (a %s) sent a top-up; refused", device.id, device.kind)
            return {"k": "error", "re": body["id"], "code": "bad_request"}
        card = cards.get(body["card"])
        ledger = self.book.account(device.account_id).ledger
        if card is None or self.book.account(card[0]).ledger != ledger:
            log.error(
                "kiosk %s counted %d for unknown card %s (event %s): kept on the kiosk",
                device.id,
                body["amount"],
                body["card"],
                body["ev"],
            )
            return {"k": "error", "re": body["id"], "code": "unknown_card"}
        wallet = card[0]
        key = (device.id, body["ev"])
        if key not in self.done:
            self.done[key] = self._credit(item, wallet, ledger)
        amount, bonus = self.done[key]
        return {
            "k": "ack",
            "re": body["id"],
            "posted": amount,
            "voided": 0,
            "bonus": bonus,
            "balance": self.book.account(wallet).available,
        }

    def _credit(self, item, wallet: int, ledger: str) -> tuple[int, int]:
        body, device = item.body, item.device
        tag = f"kiosk/{device.id}/{body['ev']}"
        amount = body["amount"]
        # Cash put on a debit card pays what it owes, as at the cash desk: no top-up bonus.
        debit = self.book.account(wallet).credit_limit > 0
        tid = self.book.transfer(
            device.account_id,
            wallet,
            amount,
            code=SETTLEMENT_CODE if debit else TOPUP_CODE,
            reason=f"cash counted at kiosk {device.id}",
            key=tag,
        )
        bonus = 0 if debit else topup_bonus.topup_bonus(amount, self._tiers(ledger, device.site))
        if bonus:
            self.book.transfer(
                self._bonus_source(ledger),
                wallet,
                bonus,
                code=topup_bonus.BONUS_CODE,
                reason=f"top-up bonus on {amount}",
                key=tag + "/bonus",
            )
        self.rows.append(
            (device.id, body["ev"], body["id"], body["card"], amount, bonus, tid, self.raw.when(self.now))
        )
        return amount, bonus

    def _tiers(self, ledger: str, site: str) -> list:
        if (ledger, site) not in self.tiers:
            self.tiers[ledger, site] = [
                (t["min_amount"], t["percent"]) for t in topup_bonus.get_tiers(self.book.conn, ledger, site)
            ]
        return self.tiers[ledger, site]

    def _bonus_source(self, ledger: str) -> int:
        if ledger not in self.bonus_source:
            account = system_account(self.book.conn, ledger, "bonus", topup_bonus.PROMOTIONS)
            self.book.load([account], lock=False)
            self.bonus_source[ledger] = account
        return self.bonus_source[ledger]

    def write(self) -> None:
        self.raw.many(_INSERT, self.rows)
