"""Top-up bonus tiers (seed 002): topping up a card earns extra balance, e.g.
5 % from 50.00 on, so 50.00 becomes 52.50. The extra is booked apart from the
paid money (code "topup_bonus", from the promotions account), so a refund
can tell the two apart: paid money is paid back, bonus is not."""
from __future__ import annotations

from decimal import Decimal

from sqlalchemy import BigInteger, Column, Connection, delete, select
from sqlmodel import Field, SQLModel

from hub.bonus_rules import TopupTier as Tier, topup_bonus

BONUS_CODE = "topup_bonus"
FORFEIT_CODE = "bonus_forfeit"
PROMOTIONS = "promotions"


class TopupTier(SQLModel, table=True):
    __tablename__ = "topup_tiers"
    id: int | None = Field(default=None, primary_key=True)
    ledger: str = Field(index=True)
    min_amount: int = Field(sa_column=Column(BigInteger, nullable=False))
    percent: str  # a decimal, kept exact as text


TIERS = TopupTier.__table__


def get_tiers(conn: Connection, ledger: str) -> list[dict]:
    rows = conn.execute(select(TIERS.c.min_amount, TIERS.c.percent)
                        .where(TIERS.c.ledger == ledger).order_by(TIERS.c.min_amount))
    return [{"min_amount": m, "percent": Decimal(p)} for m, p in rows]


def set_tiers(conn: Connection, ledger: str, tiers: list[dict]) -> list[dict]:
    """Replace the ledger's tiers; each is checked (amount >= 0, percent >= 0)."""
    checked = [Tier(t["min_amount"], t["percent"]) for t in tiers]
    if len({t.min_amount for t in checked}) != len(checked):
        raise ValueError("two tiers start at the same amount")
    conn.execute(delete(TIERS).where(TIERS.c.ledger == ledger))
    if checked:
        conn.execute(TIERS.insert(), [{"ledger": ledger, "min_amount": t.min_amount,
                                       "percent": str(t.percent)} for t in checked])
    return get_tiers(conn, ledger)


def bonus_for(conn: Connection, ledger: str, amount: int) -> int:
    tiers = get_tiers(conn, ledger)
    return topup_bonus(amount, [(t["min_amount"], t["percent"]) for t in tiers])
