"""Settling per-party net figures with the fewest payments: the largest debtor pays the largest
creditor as much as either needs, until every net is met. Each payment clears at least one
party, so n parties settle in at most n − 1 payments. Pure: no database."""

from __future__ import annotations

import heapq

from hub.core.errors import LedgerError


def fewest_payments(nets: dict[str, int]) -> list[dict]:
    """Payments {"from", "to", "amount"} that bring every party's net (> 0: it is owed, < 0:
    it owes) to zero. The nets must sum to zero."""
    if sum(nets.values()) != 0:
        raise LedgerError(f"the nets do not sum to zero: {sum(nets.values())}")
    # max-heaps by amount, then by party id for a stable answer
    creditors = [(-net, party) for party, net in nets.items() if net > 0]
    debtors = [(net, party) for party, net in nets.items() if net < 0]
    heapq.heapify(creditors)
    heapq.heapify(debtors)
    payments = []
    while creditors and debtors:
        owed, creditor = heapq.heappop(creditors)
        owes, debtor = heapq.heappop(debtors)
        amount = min(-owed, -owes)
        payments.append({"from": debtor, "to": creditor, "amount": amount})
        if -owed > amount:
            heapq.heappush(creditors, (owed + amount, creditor))
        if -owes > amount:
            heapq.heappush(debtors, (owes + amount, debtor))
    return payments
