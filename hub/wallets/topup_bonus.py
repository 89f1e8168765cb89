"""Top-up bonus tiers (seed 002): topping up a card earns extra balance, e.g.
5 % from 50.00 on, so 50.00 becomes 52.50. The extra is booked apart from the
paid money (code "topup_bonus", from the promotions account), so a refund
can tell the two apart: paid money is paid back, bonus is not.

Tiers are per site (issue 13): a top-up applies the tiers of the site where it happens (the
cash desk's counter or outlet, a kiosk's site). A site without a list of its own uses the
coalition's default list (the one global list of before; a database upgraded keeps its tiers as
that default, so nothing changes until a site sets its own). A site's own list may be empty: no
bonus there, whatever the default says."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

from sqlalchemy import Connection, and_, bindparam, delete, exists, or_, select

from hub.core.clock import utcnow
from hub.core.errors import Invalid, NotFound
from hub.tables.outlets import Counter, Outlet, Site
from hub.tables.wallets import TopupTier as TierRow
from hub.tables.wallets import TopupTierSite

BONUS_CODE = "topup_bonus"
FORFEIT_CODE = "bonus_forfeit"
PROMOTIONS = "promotions"


TIERS = TierRow.__table__
OWN_LISTS = TopupTierSite.__table__
SITES, OUTLETS, COUNTERS = Site.__table__, Outlet.__table__, Counter.__table__


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


def _rows(conn: Connection, ledger: str, site_id: str | None) -> list[dict]:
    owner = TIERS.c.site_id.is_(None) if site_id is None else TIERS.c.site_id == site_id
    rows = conn.execute(
        select(TIERS.c.min_amount, TIERS.c.percent)
        .where(TIERS.c.ledger == ledger, owner)
        .order_by(TIERS.c.min_amount)
    )
    return [{"min_amount": m, "percent": Decimal(p)} for m, p in rows]


def has_own(conn: Connection, ledger: str, site_id: str) -> bool:
    return bool(
        conn.execute(
            select(OWN_LISTS.c.site_id).where(OWN_LISTS.c.site_id == site_id, OWN_LISTS.c.ledger == ledger)
        ).first()
    )


def _site_or_default():
    ledger, site = bindparam("ledger"), bindparam("site_id")
    own = exists().where(OWN_LISTS.c.site_id == site, OWN_LISTS.c.ledger == ledger)
    return (
        select(TIERS.c.min_amount, TIERS.c.percent)
        .where(
            TIERS.c.ledger == ledger,
            or_(and_(TIERS.c.site_id == site, own), and_(TIERS.c.site_id.is_(None), ~own)),
        )
        .order_by(TIERS.c.min_amount)
    )


_SITE_OR_DEFAULT = _site_or_default()  # built once


def get_tiers(conn: Connection, ledger: str, site_id: str | None = None) -> list[dict]:
    """The tiers a top-up at `site_id` applies: the site's own list, or else the default list
    (site_id None: the default list); in one query, as every top-up reads them."""
    if site_id is None:
        return _rows(conn, ledger, None)
    rows = conn.execute(_SITE_OR_DEFAULT, {"ledger": ledger, "site_id": site_id})
    return [{"min_amount": m, "percent": Decimal(p)} for m, p in rows]


def _check_site(conn: Connection, site_id: str) -> None:
    if not conn.execute(select(SITES.c.id).where(SITES.c.id == site_id)).first():
        raise NotFound(f"no site {site_id}")


def site_tiers(conn: Connection, ledger: str, site_id: str) -> dict:
    """A site's tiers and whether they are its own list (`own`) or the default."""
    _check_site(conn, site_id)
    own = has_own(conn, ledger, site_id)
    return {"site_id": site_id, "own": own, "tiers": _rows(conn, ledger, site_id if own else None)}


def set_tiers(conn: Connection, ledger: str, tiers: list[dict], site_id: str | None = None) -> list[dict]:
    """Replace the site's own tiers (site_id None: the default list, which only sites without
    their own use); each is checked (amount >= 0, percent >= 0)."""
    checked = [Tier(t["min_amount"], t["percent"]) for t in tiers]
    if len({t.min_amount for t in checked}) != len(checked):
        raise Invalid("two tiers start at the same amount")
    if site_id is not None:
        _check_site(conn, site_id)
        if not has_own(conn, ledger, site_id):
            conn.execute(OWN_LISTS.insert().values(site_id=site_id, ledger=ledger, updated_at=utcnow()))
        else:
            conn.execute(
                OWN_LISTS.update()
                .where(OWN_LISTS.c.site_id == site_id, OWN_LISTS.c.ledger == ledger)
                .values(updated_at=utcnow())
            )
    owner = TIERS.c.site_id.is_(None) if site_id is None else TIERS.c.site_id == site_id
    conn.execute(delete(TIERS).where(TIERS.c.ledger == ledger, owner))
    if checked:
        conn.execute(
            TIERS.insert(),
            [
                {"ledger": ledger, "site_id": site_id, "min_amount": t.min_amount, "percent": str(t.percent)}
                for t in checked
            ],
        )
    return _rows(conn, ledger, site_id)


def set_site_tiers(conn: Connection, ledger: str, site_id: str, tiers: list[dict]) -> dict:
    set_tiers(conn, ledger, tiers, site_id)
    return site_tiers(conn, ledger, site_id)


def use_default(conn: Connection, ledger: str, site_id: str) -> dict:
    """The site drops its own list: its top-ups apply the default list again."""
    _check_site(conn, site_id)
    conn.execute(delete(TIERS).where(TIERS.c.ledger == ledger, TIERS.c.site_id == site_id))
    conn.execute(delete(OWN_LISTS).where(OWN_LISTS.c.site_id == site_id, OWN_LISTS.c.ledger == ledger))
    return site_tiers(conn, ledger, site_id)


def site_of(conn: Connection, outlet_id: str | None = None, counter_id: str | None = None) -> str | None:
    """The site of a counter (its outlet's) or of an outlet; NotFound for an unknown one, None
    when neither is named."""
    if counter_id is not None:
        found = conn.execute(select(COUNTERS.c.outlet_id).where(COUNTERS.c.id == counter_id)).first()
        if found is None:
            raise NotFound(f"no counter {counter_id}")
        if outlet_id is not None and found[0] != outlet_id:
            raise Invalid(f"counter {counter_id} is not of outlet {outlet_id}")
        outlet_id = found[0]
    if outlet_id is None:
        return None
    site = conn.execute(select(OUTLETS.c.site_id).where(OUTLETS.c.id == outlet_id)).first()
    if site is None:
        raise NotFound(f"no outlet {outlet_id}")
    return site[0]


def bonus_for(conn: Connection, ledger: str, amount: int, site_id: str | None = None) -> int:
    tiers = get_tiers(conn, ledger, site_id)
    return topup_bonus(amount, [(t["min_amount"], t["percent"]) for t in tiers])
