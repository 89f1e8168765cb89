"""Sites, outlets and their counters (/api/v1/sites, /outlets, /counters), hub.loyalty.outlets.
An outlet's holiday calendar is with the bonus-point rules that read it (point_rules.py)."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field
from sqlalchemy import Connection

from hub.api.auth import Allowed
from hub.api.deps import Currency, DbDep, Scope
from hub.api.fields import Slug
from hub.loyalty import outlets

router = APIRouter(tags=["outlets"])


class SiteIn(BaseModel):
    id: Slug
    name: str = Field("", max_length=100)
    tz: str = Field("Europe/Zurich", description="IANA zone: local days for rules and expiry dates")


class OutletIn(BaseModel):
    id: Slug
    site_id: Slug
    name: str = Field("", max_length=100)
    kind: str = Field("shop", pattern=r"^[a-z_]{1,20}$", description="bar, shop, slide, partner …")


class OutletOut(BaseModel):
    id: str
    site_id: str
    name: str
    kind: str
    ledger: str
    revenue_account_id: int
    tz: str


class CounterIn(BaseModel):
    id: Slug
    name: str = Field("", max_length=100)
    kind: str = Field("till", pattern="^(till|terminal|kiosk)$", description="till, terminal or kiosk")


class CounterOut(BaseModel):
    id: str
    outlet_id: str
    site_id: str
    name: str
    kind: str
    active: bool


@router.post("/sites", response_model=SiteIn, status_code=201)
def create_site(_caller: Allowed.sites_write, site: SiteIn, db: DbDep):
    return db.write(outlets.create_site, site.id, site.name, site.tz)


@router.get("/sites", response_model=list[SiteIn])
def list_sites(_caller: Allowed.loyalty_read, db: DbDep):
    return db.read(outlets.list_sites)


@router.post("/outlets", response_model=OutletOut, status_code=201)
def create_outlet(_caller: Allowed.sites_write, outlet: OutletIn, db: DbDep, currency: Currency):
    """An outlet of a site (also the "store" of bonus rules), with its own revenue account."""
    return db.write(outlets.create_outlet, currency, outlet.id, outlet.site_id, outlet.name, outlet.kind)


@router.get("/outlets", response_model=list[OutletOut])
def list_outlets(caller: Allowed.loyalty_read, db: DbDep, site_id: str | None = None):
    """The outlets (of a site); a caller bound to an outlet or site sees theirs."""

    def visible(conn: Connection) -> list[dict]:
        mine = caller.outlet_filter(conn)
        return [o for o in outlets.list_outlets(conn, site_id) if mine is None or o["id"] in mine]

    return db.read(visible)


@router.post("/outlets/{outlet_id}/counters", response_model=CounterOut, status_code=201)
def create_counter(_caller: Allowed.loyalty_write, outlet_id: str, counter: CounterIn, db: DbDep):
    """A counter of the outlet (a till, a payment terminal, a kiosk). A cash register is
    configured with its counter id: GET /counters/{id} tells it its outlet and site, and it
    names the counter in the baskets it books."""
    return db.write(
        outlets.create_counter, outlet_id, counter.id, counter.name, counter.kind, scope=Scope(outlet_id)
    )


@router.get("/outlets/{outlet_id}/counters", response_model=list[CounterOut])
def list_counters(_caller: Allowed.loyalty_read, outlet_id: str, db: DbDep):
    return db.read(outlets.list_counters, outlet_id, scope=Scope(outlet_id))


@router.get("/counters/{counter_id}", response_model=CounterOut)
def get_counter(_caller: Allowed.loyalty_read, counter_id: str, db: DbDep):
    return db.read(outlets.get_counter, counter_id, scope=Scope(counter=counter_id))


@router.post("/counters/{counter_id}/deactivate", response_model=CounterOut)
def deactivate_counter(_caller: Allowed.loyalty_write, counter_id: str, db: DbDep):
    """Switch a counter off: baskets naming it are refused (409)."""
    return db.write(outlets.set_counter_active, counter_id, False, scope=Scope(counter=counter_id))


@router.post("/counters/{counter_id}/activate", response_model=CounterOut)
def activate_counter(_caller: Allowed.loyalty_write, counter_id: str, db: DbDep):
    return db.write(outlets.set_counter_active, counter_id, True, scope=Scope(counter=counter_id))
