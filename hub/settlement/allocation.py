"""Whose money a card spends: each wallet's money as lots by the party that holds it (the outlet
that took the cash, or the settlement node), spent first in, first out. Pure: no database.

A lot is cash (a top-up: a liability of the outlet that took the cash) or bonus (a top-up bonus:
the granting outlet paid the node for it at the grant, the node pays whoever it is spent at).
A spend takes the wallet's cash lots oldest first, then its bonus lots oldest first (the
visitor's own money counts as spent first, as hub.wallets.cash_desk.unspent_bonus says):
  * a cash lot of A spent at B:  A owes B (nothing when A is B);
  * a bonus lot of A spent at B: the node owes B; A's bonus was redeemed elsewhere unless A is B.
A spend the wallet cannot cover (a debit card, paid later) waits as a debt: the next money in
pays it, and that money's holder owes the receiver. A sale refunded at B undoes B's latest
uncovered debts, then B's latest spends of the wallet (their lots go back to the front of the
queue), so the owing reverses — in the period the refund is booked, never in a closed one.
A top-up paid back at R takes cash lots as a spend at R does (R paid the cash out); a bonus
that lapses takes bonus lots and moves nothing (the node keeps what the grantor paid).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

NODE = "(node)"  # the settlement node: not a valid outlet id
CASH, BONUS = "cash", "bonus"


@dataclass
class Flow:
    """payer owes payee `amount`, because of transfer `transfer`."""

    transfer: str
    payer: str
    payee: str
    amount: int


@dataclass
class Figure:
    """An amount added to one of an outlet's figures by one transfer."""

    transfer: str
    party: str
    name: str
    amount: int


@dataclass
class Lot:
    holder: str
    kind: str
    amount: int


@dataclass
class Match:
    """A piece of a lot spent at `receiver` (kept so a refund there can undo it)."""

    holder: str
    kind: str
    receiver: str
    amount: int


@dataclass
class Wallet:
    lots: dict[str, deque] = field(default_factory=lambda: {CASH: deque(), BONUS: deque()})
    debts: deque = field(default_factory=deque)  # [receiver, amount]
    matches: list[Match] = field(default_factory=list)


class Allocation:
    """Replays wallet events in booking order; `flows` and `figures` grow with each event."""

    def __init__(self) -> None:
        self.wallets: dict[int, Wallet] = {}
        self.flows: list[Flow] = []
        self.figures: list[Figure] = []

    def _wallet(self, account: int) -> Wallet:
        found = self.wallets.get(account)
        if found is None:
            found = self.wallets[account] = Wallet()
        return found

    def flow(self, tid: str, payer: str, payee: str, amount: int) -> None:
        if payer != payee and amount:
            self.flows.append(Flow(tid, payer, payee, amount))

    def figure(self, tid: str, party: str, name: str, amount: int) -> None:
        if amount:
            self.figures.append(Figure(tid, party, name, amount))

    # -- money in ----------------------------------------------------------------------------------

    def cash_in(self, tid: str, wallet: int, holder: str, amount: int) -> None:
        """A top-up (or a debit card's settlement) whose cash `holder` took."""
        self.figure(tid, holder, "cash_in", amount)
        self._receive(tid, self._wallet(wallet), Lot(holder, CASH, amount))

    def bonus_in(self, tid: str, wallet: int, grantor: str, amount: int) -> None:
        """A top-up bonus granted by `grantor`: it owes the node the bonus now."""
        self.figure(tid, grantor, "bonus_given", amount)
        self.flow(tid, grantor, NODE, amount)
        self._receive(tid, self._wallet(wallet), Lot(grantor, BONUS, amount))

    def node_in(self, tid: str, wallet: int, amount: int) -> None:
        """Money from no outlet (a voucher or campaign credited to the card): the node's."""
        self._receive(tid, self._wallet(wallet), Lot(NODE, CASH, amount))

    def _receive(self, tid: str, w: Wallet, lot: Lot) -> None:
        while w.debts and lot.amount:
            debt = w.debts[0]
            paid = min(debt[1], lot.amount)
            self._pay(tid, lot.holder, lot.kind, debt[0], paid)
            w.matches.append(Match(lot.holder, lot.kind, debt[0], paid))
            debt[1] -= paid
            lot.amount -= paid
            if not debt[1]:
                w.debts.popleft()
        if lot.amount:
            w.lots[lot.kind].append(lot)

    def _pay(self, tid: str, holder: str, kind: str, receiver: str, amount: int) -> None:
        if kind == CASH:
            self.flow(tid, holder, receiver, amount)
            return
        self.flow(tid, NODE, receiver, amount)
        if holder != receiver:
            self.figure(tid, holder, "bonus_redeemed_elsewhere", amount)

    # -- money out ---------------------------------------------------------------------------------

    def spend(self, tid: str, wallet: int, receiver: str, amount: int) -> None:
        """The card paid `receiver` (a till's basket, a machine's tap or vend)."""
        self.figure(tid, receiver, "from_cards", amount)
        w = self._wallet(wallet)
        left = self._consume(tid, w, receiver, amount, (CASH, BONUS))
        if left:
            w.debts.append([receiver, left])

    def cash_out(self, tid: str, wallet: int, payer: str, amount: int) -> None:
        """The card's own money paid back in cash by `payer`."""
        self.figure(tid, payer, "cash_in", -amount)
        w = self._wallet(wallet)
        left = self._consume(tid, w, payer, amount, (CASH,))
        if left:
            w.debts.append([payer, left])

    def lapse(self, tid: str, wallet: int, amount: int) -> None:
        """Bonus forfeited (a refund): its lots are gone, the node keeps what was paid for them.
        More than the bonus lots hold goes to the node as a spend there."""
        w = self._wallet(wallet)
        _, left = self._take(w, amount, (BONUS,))
        left = self._consume(tid, w, NODE, left, (CASH,))
        if left:
            w.debts.append([NODE, left])

    def _take(self, w: Wallet, amount: int, kinds) -> tuple[list[Lot], int]:
        pieces = []
        for kind in kinds:
            lots = w.lots[kind]
            while lots and amount:
                took = min(lots[0].amount, amount)
                pieces.append(Lot(lots[0].holder, kind, took))
                lots[0].amount -= took
                amount -= took
                if not lots[0].amount:
                    lots.popleft()
        return pieces, amount

    def _consume(self, tid: str, w: Wallet, receiver: str, amount: int, kinds) -> int:
        pieces, left = self._take(w, amount, kinds)
        for piece in pieces:
            self._pay(tid, piece.holder, piece.kind, receiver, piece.amount)
            w.matches.append(Match(piece.holder, piece.kind, receiver, piece.amount))
        return left

    # -- undoing a spend, moving a wallet ------------------------------------------------------------

    def unspend(self, tid: str, wallet: int, receiver: str, amount: int) -> None:
        """`receiver` gave back `amount` of what the card paid it (a refunded basket)."""
        self.figure(tid, receiver, "from_cards", -amount)
        w = self._wallet(wallet)
        for debt in reversed(w.debts):
            if debt[0] == receiver and amount:
                took = min(debt[1], amount)
                debt[1] -= took
                amount -= took
        w.debts = deque(d for d in w.debts if d[1])
        for match in reversed(w.matches):
            if not amount:
                break
            if match.receiver != receiver or not match.amount:
                continue
            took = min(match.amount, amount)
            match.amount -= took
            amount -= took
            self._unpay(tid, match.holder, match.kind, receiver, took)
            w.lots[match.kind].appendleft(Lot(match.holder, match.kind, took))
        w.matches = [m for m in w.matches if m.amount]
        if amount:  # more than the card ever paid it: the receiver holds it now
            w.lots[CASH].appendleft(Lot(receiver, CASH, amount))

    def _unpay(self, tid: str, holder: str, kind: str, receiver: str, amount: int) -> None:
        if kind == CASH:
            self.flow(tid, receiver, holder, amount)
            return
        self.flow(tid, receiver, NODE, amount)
        if holder != receiver:
            self.figure(tid, holder, "bonus_redeemed_elsewhere", -amount)

    def move(self, tid: str, source: int, target: int, amount: int, bonus: bool) -> None:
        """Money moved between two wallets (a replaced or linked card): its lots go along,
        keeping their holders. What the source cannot cover moves the target's debts to it
        (a debit card's debt moving to the new card)."""
        src, dst = self._wallet(source), self._wallet(target)
        pieces, left = self._take(src, amount, (BONUS,) if bonus else (CASH, BONUS))
        for piece in pieces:
            self._receive(tid, dst, piece)
        while dst.debts and left:
            debt = dst.debts[0]
            took = min(debt[1], left)
            src.debts.append([debt[0], took])
            debt[1] -= took
            left -= took
            if not debt[1]:
                dst.debts.popleft()
        if left:
            src.debts.append([NODE, left])
            self._receive(tid, dst, Lot(NODE, CASH, left))
