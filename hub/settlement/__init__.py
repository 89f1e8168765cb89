"""The coalition's money settled by period (seed 004): who owes whom for the visitors' money.

Stored value is a liability of whoever took the cash: a card topped up at outlet A and spent at
outlet B (a till of B, a machine selling for B) makes A owe B what was spent there. Top-up
bonuses and gifts are settled through the settlement node: the granting outlet owes the node at
the grant, the node owes the outlet where it is spent or redeemed. docs/settlement.md explains
the rules and why.

  allocation   whose money a card spends: lots per holder, first in first out (pure)
  attribution  which outlet each transfer concerns; `record_cash` for a cash desk's outlet
  netting      the fewest payments that settle the nets (pure)
  periods      when a transfer counts; closed periods
  history      the transfers a statement replays: the period's, late ones, its wallets' histories
  guard        each outlet's gifts handed over elsewhere (the seed's guard against abuse)
  statement    a period's figures per outlet, each with its transfers; CSV
  closing      close a period (frozen), read a closed one
"""

from hub.settlement.attribution import record_cash  # noqa: F401
from hub.settlement.closing import close, close_summarised, list_closed, stored  # noqa: F401
from hub.settlement.statement import report, to_csv  # noqa: F401
