"""Where the bonus system is on, per site (issue 13). The bonus settings hold one list of the
outlets where points are earned (`enabled_stores`), replaced whole by PUT /bonus-settings: a
manager of one site setting theirs would switch another site's off. Here a site's outlets are
read and replaced alone, the other sites' left as they are, under a lock on the settings row so
two sites changing theirs at the same instant both land.

The other bonus settings — hours until points are available, their default validity, a point's
value as payment — stay the coalition's: points are one ledger, earned at one site and spent at
another, so a point must be worth the same and last as long wherever it is used."""

from __future__ import annotations

from sqlalchemy import Connection, select, update

from hub.core.errors import Invalid
from hub.loyalty import outlets, points

SETTINGS = points.SETTINGS


def site_stores(conn: Connection, site_id: str) -> dict:
    """The site's outlets and those of them where the bonus system is on."""
    outlets.get_site(conn, site_id)
    own = [o["id"] for o in outlets.list_outlets(conn, site_id)]
    enabled = set(points.get_settings(conn)["enabled_stores"])
    return {"site_id": site_id, "outlets": own, "enabled_stores": [o for o in own if o in enabled]}


def set_site_stores(conn: Connection, site_id: str, stores: list[str]) -> dict:
    """Switch the bonus system on at exactly `stores` of the site's outlets (off at its others);
    other sites' outlets keep their setting."""
    outlets.get_site(conn, site_id)
    outlets.check_outlets(conn, stores, "enabled_stores")
    own = {o["id"] for o in outlets.list_outlets(conn, site_id)}
    foreign = sorted(set(stores) - own)
    if foreign:
        raise Invalid(f"enabled_stores: {', '.join(foreign)} not of site {site_id}")
    if conn.execute(select(SETTINGS.c.id).where(SETTINGS.c.id == 1).with_for_update()).first() is None:
        # No settings yet: the defaults, made now (and locked by the insert). Another request
        # making them at the same instant: an IntegrityError, and the route's retry finds them.
        conn.execute(SETTINGS.insert().values(id=1, **points.get_settings(conn)))
    settings = points.get_settings(conn)  # read under the lock
    kept = [s for s in settings["enabled_stores"] if s not in own]
    enabled = sorted(set(kept) | set(stores))
    conn.execute(update(SETTINGS).where(SETTINGS.c.id == 1).values(enabled_stores=enabled))
    return site_stores(conn, site_id)
