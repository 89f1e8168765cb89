"""Top-up bonus tiers (seed 002): topping up a card earns extra balance, e.g.
5 % from 50.00 on, so 50.00 becomes 52.50. The extra is booked apart from the
paid money (code "topup_bonus", from the promotions account), so a refund
can tell the two apart: paid money is paid back, bonus is not."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

from sqlalchemy import Connection, delete, select

from hub.core.errors import Invalid
from hub.tables.wallets import TopupTier as TierRow

BONUS_CODE = "topup_bonus"
FORFEIT_CODE = "bonus_forfeit"
PROMOTIONS = "promotions"


TIERS = TierRow.__table__


@dataclass(frozen=True, slots=True)
class Tier:
    """From `min_amount` (minor units) on, a top-up earns `percent` % extra balance."""

    min_amount: int
    percent: Decimal | int | str

    def __post_init__(self) -> None:
        if isinstance(self.min_amount, bool) or not isinstance(self.min_amount, int) or self.min_amount < 0:
            raise Invalid(f"min_amount must be a non-negative int, got {self.min_amount!r}")
        percent = Decimal(str(self.percent))
        if percent < 0:
            raise Invalid("percent must be >= 0")
        object.__setattr__(self, "percent", percent)


def topup_bonus(amount: int, tiers: Sequence[Tier | tuple[int, Decimal | int | str]]) -> int:
    """Extra balance (minor units) for topping up `amount`: the highest tier reached applies its
    percentage to the whole amount, rounded down. 50.00 at 5 % -> 2.50, balance 52.50."""
    if isinstance(amount, bool) or not isinstance(amount, int) or amount < 0:
        raise Invalid(f"amount must be a non-negative int, got {amount!r}")
    best = None
    for tier in tiers:
        tier = tier if isinstance(tier, Tier) else Tier(*tier)
        if tier.min_amount <= amount and (best is None or tier.min_amount > best.min_amount):
            best = tier
    if best is None:
        return 0
    return int(Fraction(amount) * Fraction(best.percent) / 100)


def get_tiers(conn: Connection, ledger: str) -> list[dict]:
    rows = conn.execute(
        select(TIERS.c.min_amount, TIERS.c.percent)
        .where(TIERS.c.ledger == ledger)
        .order_by(TIERS.c.min_amount)
    )
    return [{"min_amount": m, "percent": Decimal(p)} for m, p in rows]


def set_tiers(conn: Connection, ledger: str, tiers: list[dict]) -> list[dict]:
    """Replace the ledger's tiers; each is checked (amount >= 0, percent >= 0)."""
    checked = [Tier(t["min_amount"], t["percent"]) for t in tiers]
    if len({t.min_amount for t in checked}) != len(checked):
        raise Invalid("two tiers start at the same amount")
    conn.execute(delete(TIERS).where(TIERS.c.ledger == ledger))
    if checked:
        conn.execute(
            TIERS.insert(),
            [{"ledger": ledger, "min_amount": t.min_amount, "percent": str(t.percent)} for t in checked],
        )
    return get_tiers(conn, ledger)


def bonus_for(conn: Connection, ledger: str, amount: int) -> int:
    tiers = get_tiers(conn, ledger)
    return topup_bonus(amount, [(t["min_amount"], t["percent"]) for t in tiers])
