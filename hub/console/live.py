"""The Live page: each controller online or offline, when it was last heard of, its health
(free heap, RSSI, reader resets, journal depth, firmware), its taps and denials in the last
minute, and the messages the hub refused — the table reloads itself every few seconds (htmx
polling of /live/table; without JavaScript, the browser's reload).

Last seen: its last health report or request, whichever is newer. Online/offline is what the
controller last said on its status topic (its will says offline when its connection drops), as
stored by whichever hub heard it (hub.devices.management.store_states, within the bridge's
manage_interval_s), so every hub and an API-only process show the same; unknown for a controller
that has said nothing since that table exists. Taps and denials are read from the answers stored
for the last minute's requests (hub.taps.authorize), at most SCAN of them."""

from __future__ import annotations

import datetime as dt
import json
from typing import Annotated

from fastapi import APIRouter
from sqlalchemy import Connection, func, select

from hub.access.callers import Caller, visible_devices
from hub.console.web import Needs, Page
from hub.core.clock import utcnow
from hub.devices import refusals
from hub.devices.management import HEALTH, device_states
from hub.tables.taps import DeviceRequest

router = APIRouter()

REQUESTS = DeviceRequest.__table__
SCAN = 20_000  # stored answers read for the last minute's figures, newest first
POLL_SECONDS = 3
GRANT = json.dumps({"k": "grant"})[:-1].encode()  # b'{"k": "grant"'

LivePage = Annotated[Page, Needs("devices.read")]


def _last_minute(conn: Connection, now: dt.datetime) -> dict[str, dict]:
    """Taps (granted or denied) per device in the last minute, its denials by reason, and its
    last request answered (`last`)."""
    top = conn.execute(select(func.max(REQUESTS.c.id))).scalar()
    counts: dict[str, dict] = {}
    if top is None:
        return counts
    since = now - dt.timedelta(minutes=1)
    rows = conn.execute(
        select(REQUESTS.c.device_id, REQUESTS.c.reply, REQUESTS.c.created_at).where(
            REQUESTS.c.id > top - SCAN
        )
    )
    for device_id, reply, created_at in rows:
        if created_at is None or created_at < since:
            continue
        seen = counts.setdefault(device_id, {"taps": 0, "denials": 0, "reasons": {}, "last": created_at})
        seen["last"] = max(seen["last"], created_at)
        reply = bytes(reply)
        # The hub writes its answers as json.dumps({"k": …, …}): a grant is told by its first
        # bytes, without decoding every answer of a busy minute (the page polls every few s).
        if reply.startswith(GRANT):
            seen["taps"] += 1
            continue
        try:
            body = json.loads(reply)
        except ValueError:
            continue
        kind = body.get("k") if isinstance(body, dict) else None
        if kind not in ("grant", "deny"):
            continue  # a delivery report's answer, an error
        seen["taps"] += 1
        if kind == "deny":
            seen["denials"] += 1
            code = str(body.get("code"))
            seen["reasons"][code] = seen["reasons"].get(code, 0) + 1
    return counts


def _live(conn: Connection, caller: Caller, now: dt.datetime) -> dict:
    devices = visible_devices(conn, caller)
    ids = {d["id"] for d in devices}
    health = {
        r["device_id"]: dict(r) for r in conn.execute(select(HEALTH)).mappings() if r["device_id"] in ids
    }
    states = {d: s for d, s in device_states(conn).items() if d in ids}
    minute = _last_minute(conn, now)
    refused = [r for r in refusals.listing(conn) if r["device_id"] in ids or not caller.scoped]
    return {"devices": devices, "health": health, "states": states, "minute": minute, "refused": refused}


def _table(page: Page) -> dict:
    now = utcnow()
    data = page.db().read(_live, page.caller, now)
    bridge = page.request.app.state.bridge
    rows = []
    for device in data["devices"]:
        health = data["health"].get(device["id"])
        status = data["states"].get(device["id"], {"state": "unknown", "changed_at": None})
        minute = data["minute"].get(device["id"], {})
        heard = [t for t in (health and health["received_at"], minute.get("last")) if t is not None]
        rows.append(
            {
                **device,
                "state": status["state"],
                "state_at": status["changed_at"],
                "health": health,
                "last_seen": max(heard) if heard else None,
                "taps": minute.get("taps", 0),
                "denials": minute.get("denials", 0),
                "reasons": minute.get("reasons", {}),
            }
        )
    if bridge is None:
        hub = None
    else:
        stats = getattr(bridge, "stats", {})
        hub = {
            "received": stats.get("received", 0),
            "refused": stats.get("refused", 0),
            "connected": bridge.connected.is_set(),
        }
    return {"rows": rows, "refused": data["refused"], "hub": hub, "now": now}


@router.get("/live")
def live(page: LivePage):
    return page.render("live.html", title=page._("Live"), poll=POLL_SECONDS, **_table(page))


@router.get("/live/table")
def live_table(page: LivePage):
    """The table alone, for the page's polling."""
    return page.render("live_table.html", poll=POLL_SECONDS, **_table(page))
