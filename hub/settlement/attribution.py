"""Which outlet each money transfer concerns, derived from the ledger transfers and what their
accounts belong to:

  * an outlet's revenue account (a till's basket, points bought there)        → that outlet;
  * a machine's account (a tap, an offline vend; a kiosk's cash box)           → the outlet the
    machine sells for (its loyalty settings, PUT /devices/{id}/loyalty); none: the node's;
  * the cash desk (a top-up, a debit card's settlement, a refund)              → the outlet recorded
    with the booking (`record_cash`: the till or outlet named, else the caller's outlet); none: the
    node's own cash desk;
  * the promotions account (a top-up bonus, key "<top-up key>/bonus")        → the outlet of its
    top-up;
  * an outlet's gift-obligation account (hub.gifts)                            → that outlet.

`Attribution` feeds each transfer (a `Booked`, read by hub.settlement.history) to the allocation of
cards' money as what it means there: cash in, a bonus, a spend, a refund, a move, an obligation.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import Connection, select

from hub.core.errors import NotFound
from hub.ledger import TRANSFERS
from hub.settlement.allocation import NODE, Allocation
from hub.tables.devices import Device
from hub.tables.gifts import ObligationAccount
from hub.tables.outlets import Counter, Outlet
from hub.tables.settlement import CashOutlet
from hub.tables.taps import DeviceLoyalty
from hub.wallets import topup_bonus

CASH_OUTLETS = CashOutlet.__table__
OUTLETS = Outlet.__table__
COUNTERS = Counter.__table__
DEVICES = Device.__table__
DEVICE_LOYALTY = DeviceLoyalty.__table__
OBLIGATIONS = ObligationAccount.__table__

POSTED = ("posted", "post")
WALLET, OBLIGATION = "wallet", "gift_obligation"
GRANT, REDEEM = "gift_grant_obligation", "gift_redeem_obligation"


def record_cash(
    conn: Connection, key: str, outlet_id: str | None = None, counter_id: str | None = None
) -> None:
    """Remember which outlet took (or paid back) the cash of the cash-desk transfer booked under
    idempotency key `key`, in the booking's transaction. A counter names its outlet. Nothing to
    record without either, or when nothing was booked under the key (a card with nothing to
    pay back), or when it was recorded before (a repeated request)."""
    if counter_id is not None:
        outlet_id = conn.execute(select(COUNTERS.c.outlet_id).where(COUNTERS.c.id == counter_id)).scalar()
        if outlet_id is None:
            raise NotFound(f"no counter {counter_id}")
    if outlet_id is None:
        return
    if conn.execute(select(OUTLETS.c.id).where(OUTLETS.c.id == outlet_id)).first() is None:
        raise NotFound(f"no outlet {outlet_id}")
    tid = conn.execute(select(TRANSFERS.c.id).where(TRANSFERS.c.idempotency_key == key)).scalar()
    if tid is None:
        return
    if conn.execute(select(CASH_OUTLETS.c.transfer_id).where(CASH_OUTLETS.c.transfer_id == tid)).first():
        return
    conn.execute(CASH_OUTLETS.insert().values(transfer_id=tid, outlet_id=outlet_id, counter_id=counter_id))


@dataclass(frozen=True)
class Owners:
    """What the accounts of one money ledger belong to."""

    outlets: dict[int, str]  # revenue account → outlet
    machines: dict[int, str]  # machine account → outlet (NODE: a machine of no outlet)
    obligations: dict[int, str]  # gift-obligation account → outlet
    cash: dict[str, str]  # cash-desk transfer id → outlet
    names: dict[str, str]  # outlet → its name


def owners(conn: Connection, ledger: str, cash_transfers: list[str]) -> Owners:
    """The owners of the ledger's outlet, machine and obligation accounts, and the outlets of the
    cash-desk transfers named."""
    outlets = conn.execute(
        select(OUTLETS.c.id, OUTLETS.c.name, OUTLETS.c.revenue_account_id).where(OUTLETS.c.ledger == ledger)
    ).all()
    machines = conn.execute(
        select(DEVICES.c.account_id, DEVICE_LOYALTY.c.outlet_id).outerjoin(
            DEVICE_LOYALTY, DEVICE_LOYALTY.c.device_id == DEVICES.c.id
        )
    ).all()
    obligations = conn.execute(select(OBLIGATIONS.c.account_id, OBLIGATIONS.c.outlet_id)).all()
    cash = []
    for i in range(0, len(cash_transfers), 500):
        chunk = cash_transfers[i : i + 500]
        query = select(CASH_OUTLETS.c.transfer_id, CASH_OUTLETS.c.outlet_id)
        cash += conn.execute(query.where(CASH_OUTLETS.c.transfer_id.in_(chunk))).all()
    return Owners(
        outlets={account: outlet for outlet, _, account in outlets},
        machines={account: outlet or NODE for account, outlet in machines},
        obligations=dict(obligations),
        cash=dict(cash),
        names={outlet: name for outlet, name, _ in outlets},
    )


@dataclass(frozen=True)
class Booked:
    """A posted transfer the settlement reads, with the kinds of its two accounts."""

    id: str
    key: str
    debit: int
    credit: int
    debit_kind: str
    credit_kind: str
    amount: int
    code: str
    created_at: dt.datetime


def receiver(owned: Owners, account: int) -> str:
    """The outlet an account paid by a card belongs to (NODE: none)."""
    return owned.outlets.get(account) or owned.machines.get(account) or NODE


CASH_CODES = ("kiosk_topup", "debit_settlement")  # a machine's cash into a wallet: a kiosk's


class Attribution:
    """Feeds the transfers, in the order they settle, to an `Allocation`."""

    def __init__(self, owned: Owners, allocation: Allocation, booked: list[Booked]):
        self.owned, self.alloc = owned, allocation
        # a top-up's key → the outlet that took it, for its bonus ("<key>/bonus"): read first,
        # since a kiosk books both with one time and their order is not the booking's
        self.cash_by_key = {b.key: h for b in booked if (h := self._cash_holder(b)) is not None}

    def _cash_holder(self, b: Booked) -> str | None:
        """The outlet whose cash a transfer into a wallet is (None: it is not cash)."""
        if b.credit_kind != WALLET:
            return None
        if b.debit_kind == "cash":
            return self.owned.cash.get(b.id, NODE)
        if b.debit_kind == "machine" and b.code in CASH_CODES:
            return receiver(self.owned, b.debit)
        return None

    def apply(self, b: Booked) -> None:
        if b.credit_kind == WALLET:
            self._into_wallet(b)
        elif b.debit_kind == WALLET:
            self._out_of_wallet(b)
        elif b.debit_kind == OBLIGATION:
            outlet = self.owned.obligations.get(b.debit, NODE)
            name, sign = ("gifts_given", 1) if b.code == GRANT else ("gifts_redeemed", -1)
            self.alloc.figure(b.id, outlet, name, sign * b.amount)
            self.alloc.flow(b.id, outlet, NODE, b.amount)
        elif b.credit_kind == OBLIGATION:
            outlet = self.owned.obligations.get(b.credit, NODE)
            name = "gifts_redeemed" if b.code == REDEEM else "gifts_released"
            self.alloc.figure(b.id, outlet, name, b.amount)
            self.alloc.flow(b.id, NODE, outlet, b.amount)

    def _into_wallet(self, b: Booked) -> None:
        alloc, kind = self.alloc, b.debit_kind
        if kind == WALLET:
            alloc.move(b.id, b.debit, b.credit, b.amount, bonus=b.code == topup_bonus.BONUS_CODE)
        elif b.key in self.cash_by_key:
            alloc.cash_in(b.id, b.credit, self.cash_by_key[b.key], b.amount)
        elif kind == "bonus":
            grantor = self.cash_by_key.get(b.key.removesuffix("/bonus"), NODE)
            alloc.bonus_in(b.id, b.credit, grantor, b.amount)
        elif kind in ("revenue", "machine"):
            alloc.unspend(b.id, b.credit, receiver(self.owned, b.debit), b.amount)
        else:
            alloc.node_in(b.id, b.credit, b.amount)

    def _out_of_wallet(self, b: Booked) -> None:
        alloc, kind = self.alloc, b.credit_kind
        if kind == "cash":
            alloc.cash_out(b.id, b.debit, self.owned.cash.get(b.id, NODE), b.amount)
        elif kind == "bonus":
            alloc.lapse(b.id, b.debit, b.amount)
        else:
            alloc.spend(b.id, b.debit, receiver(self.owned, b.credit), b.amount)
