"""Who is calling: an operator or an API key, with their rights and the outlets they may see."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, select

from hub.access.roles import ALL
from hub.core.errors import Forbidden, Invalid, NotFound
from hub.tables.devices import Device
from hub.tables.outlets import Counter, Outlet, Site
from hub.tables.taps import DeviceLoyalty

OUTLETS = Outlet.__table__
COUNTERS = Counter.__table__
SITES = Site.__table__
DEVICES = Device.__table__
DEVICE_LOYALTY = DeviceLoyalty.__table__


@dataclass(frozen=True)
class Caller:
    kind: str  # operator, key
    name: str  # the user name or the key id
    role: str
    permissions: frozenset[str]
    site_id: str | None = None  # both None: every site and outlet
    outlet_id: str | None = None
    rate_per_minute: int | None = None  # keys only

    @property
    def scoped(self) -> bool:
        return self.site_id is not None or self.outlet_id is not None

    def may(self, permission: str) -> bool:
        return permission in self.permissions

    def home_site(self, conn: Connection) -> str | None:
        """The caller's site, or their outlet's; None for a caller bound to neither."""
        site = self.home_site_clause()
        return site if site is None or isinstance(site, str) else conn.execute(select(site)).scalar()

    def home_site_clause(self):
        """home_site for use inside another query: the site id, None, or for a caller bound to an
        outlet a scalar subquery of its site (no query of its own)."""
        if self.site_id is not None or self.outlet_id is None:
            return self.site_id
        return select(OUTLETS.c.site_id).where(OUTLETS.c.id == self.outlet_id).scalar_subquery()

    def check_site(self, conn: Connection, site_id: str | None) -> None:
        """Refuse a site other than the caller's (or their outlet's)."""
        if self.scoped and site_id != self.home_site(conn):
            raise Forbidden(f"site {site_id} is not yours")

    def check_outlet(self, conn: Connection, outlet_id: str | None) -> None:
        """Refuse an outlet outside the caller's outlet or site."""
        if not self.scoped:
            return
        if outlet_id is None:
            raise Forbidden("name your outlet: you may act only for your own")
        if self.outlet_id is not None:
            if outlet_id != self.outlet_id:
                raise Forbidden(f"outlet {outlet_id} is not yours")
            return
        site = conn.execute(select(OUTLETS.c.site_id).where(OUTLETS.c.id == outlet_id)).scalar()
        if site != self.site_id:
            raise Forbidden(f"outlet {outlet_id} is not one of your site's")

    def check_counter(self, conn: Connection, counter_id: str) -> None:
        if not self.scoped:
            return
        outlet = conn.execute(select(COUNTERS.c.outlet_id).where(COUNTERS.c.id == counter_id)).scalar()
        if outlet is None:
            raise NotFound(f"no counter {counter_id}")
        self.check_outlet(conn, outlet)

    def check_device(self, conn: Connection, device_id: str) -> None:
        """A device is a site's; bound to an outlet, a caller may act on the machines selling
        for it (their loyalty outlet)."""
        if not self.scoped:
            return
        if self.outlet_id is not None:
            outlet = conn.execute(
                select(DEVICE_LOYALTY.c.outlet_id).where(DEVICE_LOYALTY.c.device_id == device_id)
            ).scalar()
            if outlet != self.outlet_id:
                raise Forbidden(f"device {device_id} does not sell for your outlet")
            return
        site = conn.execute(select(DEVICES.c.site).where(DEVICES.c.id == device_id)).scalar()
        if site is None:
            raise NotFound(f"no device {device_id}")
        self.check_site(conn, site)

    def outlet_filter(self, conn: Connection) -> set[str] | None:
        """The outlets the caller sees; None: all."""
        if not self.scoped:
            return None
        if self.outlet_id is not None:
            return {self.outlet_id}
        return set(conn.execute(select(OUTLETS.c.id).where(OUTLETS.c.site_id == self.site_id)).scalars())


def visible_devices(conn: Connection, caller: Caller) -> list[dict]:
    """The controllers (rows) the caller may see: all, or those of their site, or the machines
    selling for their outlet (the rule of `Caller.check_device`, in one query)."""
    query = select(DEVICES).order_by(DEVICES.c.id)
    if caller.outlet_id is not None:
        query = query.join(DEVICE_LOYALTY, DEVICE_LOYALTY.c.device_id == DEVICES.c.id).where(
            DEVICE_LOYALTY.c.outlet_id == caller.outlet_id
        )
    elif caller.site_id is not None:
        query = query.where(DEVICES.c.site == caller.site_id)
    return [dict(r) for r in conn.execute(query).mappings()]


def check_scope_exists(conn: Connection, site_id: str | None, outlet_id: str | None) -> None:
    """A key or an operator bound to a site or outlet that exists (and the outlet of that site)."""
    if outlet_id is not None:
        site = conn.execute(select(OUTLETS.c.site_id).where(OUTLETS.c.id == outlet_id)).first()
        if site is None:
            raise NotFound(f"no outlet {outlet_id}")
        if site_id is not None and site[0] != site_id:
            raise Invalid(f"outlet {outlet_id} is not of site {site_id}")
    if site_id is not None and not conn.execute(select(SITES.c.id).where(SITES.c.id == site_id)).first():
        raise NotFound(f"no site {site_id}")


# The hub's own command line (`tapgift user add`, `tapgift key add`), run by whoever holds the
# database: it may make the first admin.
SYSTEM = Caller("system", "cli", "admin", ALL)
