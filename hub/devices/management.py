"""Remote management of controllers: commands to them (dn/cmd) and what they
send back (up/health, up/cmdack, up/status). The message bodies are in protocol/manage.py.

A controller's online/offline (up/status: online when it connects, offline when it leaves or its
connection drops, its MQTT will) is stored like its health, by whichever hub heard it, so that every
hub shows it (device_status). The hubs of a shared subscription hear a device's messages in turn,
so two may store its statuses out of order: a state heard earlier never replaces one heard later
(store_states).

Each command gets the device's next seq (stored in device_commands, under a
lock on the device's row) and is published sealed with the device's key. It
stays "pending" until the device acks it; pending commands are published again
when the device comes online (a controller's MQTT session is clean, so what was
published while it was away is lost), and a repeat it has already applied is
ignored by its seq. Each resend is claimed in the database (sent_at), so that of several hubs
hearing the same online only one sends it.

Deny lists: POST /api/v1/devices/deny-sync (hub/api/routers/device_commands.py) compares the
cards blocked in the hub with what each device was told (device_deny) and sends
the difference. Call it after blocking or unblocking cards; it is idempotent.
"""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import datetime

from sqlalchemy import Connection, Engine, and_, func, or_, select, update

from hub.core.clock import utcnow
from hub.core.errors import NotFound
from hub.devices import health_hours
from hub.tables.cards import Card
from hub.tables.devices import Device, DeviceCommand, DeviceDeny, DeviceHealth, DeviceStatus
from protocol import manage, messages, topics

log = logging.getLogger("tapgift.commands")

COMMANDS = DeviceCommand.__table__
HEALTH = DeviceHealth.__table__
STATUS = DeviceStatus.__table__
DENY = DeviceDeny.__table__
DEVICES = Device.__table__
CARDS = Card.__table__

HEALTH_FIELDS = (
    "uptime_seconds",
    "free_heap_bytes",
    "heap_alloc_bytes",
    "reset_cause",
    "last_traceback",
    "rssi",
    "reconnects",
    "reader_resets",
    "journal_depth",
    "fw",
)
# Cards per deny command: 12 of the longest card ids (64 characters) stay within
# messages.MAX_BODY; at most manage.MAX_DENY_CARDS either way.
DENY_CHUNK = 12


class UnknownDevice(NotFound):
    pass


# --- what devices send back (called by the bridge, in a thread) ---------------


def store_reports(
    engine: Engine,
    health: dict[str, tuple[datetime, dict]],
    acks: list[tuple[str, dict]],
    states: dict[str, tuple[datetime, str, bool]] | None = None,
) -> None:
    """Keep the latest health of each device (and add it to its hours: uptime, reboots, faults),
    mark acknowledged commands, and keep each device's latest status (states: device id ->
    (heard at, online|offline, whether the broker sent it as a retained message))."""
    with engine.begin() as conn:
        for device_id, (received_at, body) in health.items():
            previous = latest_health(conn, device_id)
            _upsert_health(conn, device_id, received_at, body)
            health_hours.roll_up(conn, device_id, received_at, body, previous)
        for device_id, ack in acks:
            conn.execute(
                update(COMMANDS)
                .where(
                    COMMANDS.c.device_id == device_id,
                    COMMANDS.c.seq == ack["seq"],
                    COMMANDS.c.status == "pending",
                )
                .values(
                    status="applied" if ack["ok"] else "refused",
                    code=ack.get("code"),
                    detail=str(ack.get("detail", ""))[:200] or None,
                    acked_at=utcnow(),
                )
            )
        if states:
            store_states(conn, states)


def _insert(conn: Connection):
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert


def store_states(conn: Connection, states: dict[str, tuple[datetime, str, bool]]) -> None:
    """Store the statuses heard (device id -> (heard at, state, retained)), one statement for
    those heard live and one for retained ones.

    A row changes only for a status heard later than the one it holds: two hubs
    store in their own time, each every manage_interval_s, and the one that heard the earlier
    status may store it last. The order is the hubs' clocks' (keep them in sync, NTP), as
    close as the protocol allows: a status body carries no time or sequence of its own, and the
    will's is written when the device connects.

    A retained status is the broker's copy of the device's last one, handed to a hub when it
    subscribes (a restart, a reconnection): it is only known to be no newer than now, so it
    changes the state if it differs (the device came or went while no hub was listening) but
    leaves the time of a state it repeats."""
    insert = _insert(conn)
    stmt = insert(STATUS)
    excluded = stmt.excluded
    newer = STATUS.c.changed_at < excluded.changed_at
    for retained, where in ((False, newer), (True, and_(newer, STATUS.c.state != excluded.state))):
        rows = [
            {"device_id": device_id, "state": state, "changed_at": heard_at}
            for device_id, (heard_at, state, was_retained) in states.items()
            if was_retained is retained
        ]
        if rows:
            conn.execute(
                stmt.on_conflict_do_update(
                    index_elements=[STATUS.c.device_id],
                    set_={"state": excluded.state, "changed_at": excluded.changed_at},
                    where=where,
                ),
                rows,
            )


def device_states(conn: Connection, device_ids=None) -> dict[str, dict]:
    """The stored status of devices (all, or those of device_ids): device id ->
    {"state": online|offline, "changed_at": when a hub heard it}. A device that has said
    nothing since the table exists has none."""
    query = select(STATUS.c.device_id, STATUS.c.state, STATUS.c.changed_at)
    if device_ids is not None:
        query = query.where(STATUS.c.device_id.in_(list(device_ids)))
    return {d: {"state": state, "changed_at": at} for d, state, at in conn.execute(query)}


def _upsert_health(conn: Connection, device_id: str, received_at: datetime, body: dict) -> None:
    insert = _insert(conn)
    values = {name: body.get(name) for name in HEALTH_FIELDS}
    stmt = insert(HEALTH).values(device_id=device_id, received_at=received_at, **values)
    conn.execute(
        stmt.on_conflict_do_update(
            index_elements=[HEALTH.c.device_id],
            set_={name: stmt.excluded[name] for name in ("received_at", *HEALTH_FIELDS)},
        )
    )


def latest_health(conn: Connection, device_id: str) -> dict | None:
    row = conn.execute(select(HEALTH).where(HEALTH.c.device_id == device_id)).mappings().first()
    return dict(row) if row else None


# --- commands ----------------------------------------------------------------------


def _lock_device(conn: Connection, device_id: str) -> dict:
    """The device's row, locked until commit (PostgreSQL; SQLite locks the database)."""
    row = (
        conn.execute(select(DEVICES.c.id, DEVICES.c.site).where(DEVICES.c.id == device_id).with_for_update())
        .mappings()
        .first()
    )
    if row is None:
        raise UnknownDevice(f"no device {device_id}")
    return dict(row)


def add_command(conn: Connection, device_id: str, body: dict) -> tuple[int, bytes]:
    """Store body as the device's next command; returns (seq, encoded body).
    The caller holds the device's row lock (_lock_device). Raises ProtocolError
    if the body breaks the protocol's rules."""
    last = conn.execute(select(func.max(COMMANDS.c.seq)).where(COMMANDS.c.device_id == device_id)).scalar()
    seq = (last or 0) + 1
    data = messages.encode({"seq": seq, **body})
    manage.decode(topics.CMD, data)  # the rules the device checks
    now = utcnow()
    conn.execute(
        COMMANDS.insert().values(
            device_id=device_id,
            seq=seq,
            kind=body["k"],
            body=data.decode(),
            status="pending",
            created_at=now,
            sent_at=now,  # its caller publishes it now (publish() clears this if that fails)
        )
    )
    return seq, data


def new_command(engine: Engine, device_id: str, body: dict) -> tuple[dict, int, bytes]:
    """(device row, seq, encoded body) of a newly stored command."""
    with engine.begin() as conn:
        device = _lock_device(conn, device_id)
        seq, data = add_command(conn, device_id, body)
        if body["k"] == messages.DENY:
            _note_deny(conn, device_id, body)
    return device, seq, data


def list_commands(conn: Connection, device_id: str, limit: int = 100) -> list[dict]:
    rows = conn.execute(
        select(COMMANDS).where(COMMANDS.c.device_id == device_id).order_by(COMMANDS.c.seq.desc()).limit(limit)
    ).mappings()
    return [{**dict(r), "body": json.loads(r["body"])} for r in rows]


def claim_resends(engine: Engine, device_ids, now: datetime) -> dict[str, list[bytes]]:
    """The pending commands to send again, per device, in seq order, marked sent now: those
    never sent, or last sent before the device's stored online. Several hubs may each hear a
    device come online (the broker's retained copy reaches every hub that subscribes); the first
    to claim its commands sends them, and the others find them sent since."""
    online_since = (
        select(STATUS.c.changed_at)
        .where(STATUS.c.device_id == COMMANDS.c.device_id, STATUS.c.state == "online")
        .scalar_subquery()
    )
    with engine.begin() as conn:
        rows = conn.execute(
            update(COMMANDS)
            .where(
                COMMANDS.c.device_id.in_(list(device_ids)),
                COMMANDS.c.status == "pending",
                online_since.is_not(None),
                or_(COMMANDS.c.sent_at.is_(None), COMMANDS.c.sent_at < online_since),
            )
            .values(sent_at=now)
            .returning(COMMANDS.c.device_id, COMMANDS.c.seq, COMMANDS.c.body)
        ).all()
    pending: dict[str, list[bytes]] = {}
    for device_id, _seq, body in sorted(rows):
        pending.setdefault(device_id, []).append(body.encode())
    return pending


def _unsent(engine: Engine, device_id: str, bodies: list[bytes]) -> None:
    """Mark commands whose publish failed as not sent: the device's next online sends them."""
    seqs = [json.loads(b)["seq"] for b in bodies]
    with engine.begin() as conn:
        conn.execute(
            update(COMMANDS)
            .where(COMMANDS.c.device_id == device_id, COMMANDS.c.seq.in_(seqs))
            .values(sent_at=None)
        )


async def send(bridge, engine: Engine, device_id: str, body: dict) -> int:
    """Store and publish one command; returns its seq. Raises UnknownDevice, ProtocolError."""
    device, seq, data = await asyncio.to_thread(new_command, engine, device_id, body)
    await publish(bridge, device["site"], device_id, [data])
    return seq


async def publish(bridge, site: str, device_id: str, bodies: list[bytes]) -> None:
    """Publish stored commands; one that cannot go out now stays pending."""
    if bridge is None:
        return
    info = await asyncio.to_thread(bridge.directory.get, site, device_id)
    if info is None:
        return
    for i, data in enumerate(bodies):
        try:
            await bridge.publish_command(info, data)
        except Exception as exc:  # the broker is away: sent again when the device comes online
            log.warning("command to %s not published: %s", device_id, exc)
            await asyncio.to_thread(_unsent, bridge.authorizer.engine, device_id, bodies[i:])
            return


async def resend_pending(bridge, engine: Engine, online: set[tuple[str, str]]) -> None:
    """Publish again what devices that just came online have not acknowledged: their
    MQTT sessions are clean, so a command sent while they were away was lost. Their
    statuses are stored already (Bridge.flush_management): one hub claims each resend."""
    if not online:
        return
    pending = await asyncio.to_thread(claim_resends, engine, {d for _s, d in online}, utcnow())
    for site, device_id in online:
        if device_id in pending:
            await publish(bridge, site, device_id, pending[device_id])


# --- deny lists ---------------------------------------------------------------------


def _note_deny(conn: Connection, device_id: str, body: dict) -> None:
    """Record what a deny command tells the device."""
    if body.get("clear"):
        conn.execute(DENY.delete().where(DENY.c.device_id == device_id))
    told = _told(conn, device_id)
    removed = [uid for uid in body.get("remove", ()) if uid in told]
    if removed:
        conn.execute(DENY.delete().where(DENY.c.device_id == device_id, DENY.c.card_uid.in_(removed)))
    added = sorted(set(body.get("add", ())) - told)
    if added:
        conn.execute(DENY.insert(), [{"device_id": device_id, "card_uid": uid} for uid in added])


def _told(conn: Connection, device_id: str) -> set[str]:
    return set(conn.execute(select(DENY.c.card_uid).where(DENY.c.device_id == device_id)).scalars())


def deny_commands(engine: Engine) -> list[tuple[str, str, list[bytes]]]:
    """Store deny commands that bring every device's deny list in line with the
    blocked cards; returns [(site, device id, encoded bodies)] to publish."""
    out = []
    with engine.begin() as conn:
        blocked = set(conn.execute(select(CARDS.c.uid).where(CARDS.c.status == "blocked")).scalars())
        for device_id in conn.execute(select(DEVICES.c.id).order_by(DEVICES.c.id)).scalars().all():
            device = _lock_device(conn, device_id)
            told = _told(conn, device_id)
            changes = [("add", uid) for uid in sorted(blocked - told)]
            changes += [("remove", uid) for uid in sorted(told - blocked)]
            bodies = []
            for i in range(0, len(changes), DENY_CHUNK):
                body = {"k": messages.DENY, "add": [], "remove": []}
                for name, uid in changes[i : i + DENY_CHUNK]:
                    body[name].append(uid)
                bodies.append(add_command(conn, device_id, body)[1])
                _note_deny(conn, device_id, body)
            if bodies:
                out.append((device["site"], device_id, bodies))
    if len(blocked) > manage.MAX_DENY:
        log.warning(
            "%d blocked cards: devices keep at most %d (the hub still refuses the rest)",
            len(blocked),
            manage.MAX_DENY,
        )
    return out


async def sync_deny(bridge, engine: Engine) -> dict[str, list[int]]:
    """Send every device the changes to its deny list; {device id: seqs sent}."""
    work = await asyncio.to_thread(deny_commands, engine)
    sent = {}
    for site, device_id, bodies in work:
        await publish(bridge, site, device_id, bodies)
        sent[device_id] = [json.loads(b)["seq"] for b in bodies]
    return sent
