"""Firmware updates over the air: bundles published, rolled out to chosen groups of
controllers, handed out in pieces over MQTT, confirmed or rolled back (the controller's side:
firmware/ota.py; the reasons for the design: docs/technicians.md, "Updates over the air").

- publish(): a version's files (the `tapgift fw build` output's lib/: firmware/ and protocol/)
  and their manifest, one line per file with its SHA-256 and size, kept in the database so that
  every hub process of a coalition can serve them. Bundles never change: the same version with
  other files is a Conflict.
- roll_out(): offers a version to a group (device ids, or a share of a site's or of every
  controller, picked in a stable order so that 10 % then 50 % then 100 % grow one group). Each
  offer is a command (hub/devices/management.py: stored, sent again when the device comes online,
  acked) carrying the manifest's size and its signature for that device: HMAC-SHA256 with the
  device's own key over "tapgift-fw\\n" + version + "\\n" + the manifest's SHA-256. A version
  whose earlier group has a controller that rolled back or refused it goes no further unless
  forced.
- receive(): the controllers' up/fw, called by the bridge: a piece of a file ("get"), answered on
  dn/fw only to a device the version was offered to; a version on trial saying hello, confirmed
  (it reached the hub) and answered; a version given up ("back"), recorded.
- status(): each device's update: offered, staged (the offer's ack), failed (its refusal, with the
  reason), confirmed, rolled_back (with the reason).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import math
import time
import weakref
from pathlib import Path

from sqlalchemy import Connection, Engine, select, update

from hub.core.clock import utcnow
from hub.core.errors import Conflict, Invalid, NotFound
from hub.devices import management
from hub.tables.devices import Device, DeviceCommand, DeviceHealth
from hub.tables.firmware import FirmwareBundle, FirmwareFile, FirmwareRollout, FirmwareUpdate
from protocol import ProtocolError, hub_side, manage, messages, topics
from protocol.signing import Signer

log = logging.getLogger("tapgift.firmware")

BUNDLES = FirmwareBundle.__table__
FILES = FirmwareFile.__table__
ROLLOUTS = FirmwareRollout.__table__
UPDATES = FirmwareUpdate.__table__
DEVICES = Device.__table__
COMMANDS = DeviceCommand.__table__
HEALTH = DeviceHealth.__table__

MAX_FILES = 200
MAX_BUNDLE_BYTES = 2 * 1024 * 1024
MANIFEST_NAME = "MANIFEST"  # the controller keeps the manifest in its slot under this name
PACKAGES = ("firmware", "protocol")
# Ends of an update (states beyond "offered"; "staged" and "failed" come from the offer's ack).
ENDED = ("confirmed", "rolled_back")


# --- bundles ------------------------------------------------------------------------------------


def manifest_text(version: str, files: dict[str, bytes]) -> str:
    lines = [f"tapgift-fw 1 {version}"]
    for path in sorted(files):
        lines.append(f"{hashlib.sha256(files[path]).hexdigest()} {len(files[path])} {path}")
    return "\n".join(lines) + "\n"


def signature(key_hex: str, version: str, manifest: bytes) -> str:
    """What the offer carries: the manifest's SHA-256, signed with the device's own key."""
    digest = hashlib.sha256(manifest).digest()
    return Signer(key_hex).mac(b"tapgift-fw\n", version.encode(), b"\n", digest).hex()


def files_of_build(lib: Path) -> dict[str, bytes]:
    """The files of a build's lib/ folder (`tapgift fw build` output) that go into a bundle."""
    files = {}
    for package in PACKAGES:
        for path in sorted((lib / package).rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                files[path.relative_to(lib).as_posix()] = path.read_bytes()
    return files


def _check_bundle(version: str, files: dict[str, bytes]) -> None:
    try:
        manage.check_version({"v": version})
    except ProtocolError as err:
        raise Invalid(f"version {version!r}: 1..{manage.MAX_VERSION} letters, digits, _ - .") from err
    if not files:
        raise Invalid("a bundle needs files")
    if len(files) > MAX_FILES or sum(len(d) for d in files.values()) > MAX_BUNDLE_BYTES:
        raise Invalid(f"at most {MAX_FILES} files and {MAX_BUNDLE_BYTES} bytes")
    for path in files:
        if not hub_side.check_fw_path(path) or path.rsplit("/", 1)[-1] == MANIFEST_NAME:
            raise Invalid(f"{path!r}: files go under firmware/ or protocol/, lower-case names")
    if "firmware/app.mpy" not in files and "firmware/app.py" not in files:
        raise Invalid("a bundle without firmware/app: controllers would not start it")


def publish(conn: Connection, version: str, files: dict[str, bytes], by: str = "") -> dict:
    """Keep a bundle; publishing the same files again under its version changes nothing."""
    _check_bundle(version, files)
    manifest = manifest_text(version, files)
    if len(manifest.encode()) > manage.MAX_MANIFEST:
        raise Invalid(f"the manifest would exceed {manage.MAX_MANIFEST} bytes")
    existing = conn.execute(select(BUNDLES).where(BUNDLES.c.version == version)).mappings().first()
    if existing is not None:
        if existing["manifest"] != manifest:
            raise Conflict(f"version {version} is published with other files: publish a new version")
        return bundle_view(dict(existing))
    row = {
        "version": version,
        "manifest": manifest,
        "manifest_sha256": hashlib.sha256(manifest.encode()).hexdigest(),
        "files": len(files),
        "size": sum(len(d) for d in files.values()),
        "published_by": by,
        "published_at": utcnow(),
    }
    conn.execute(BUNDLES.insert().values(**row))
    conn.execute(
        FILES.insert(),
        [
            {
                "version": version,
                "path": p,
                "sha256": hashlib.sha256(d).hexdigest(),
                "size": len(d),
                "data": d,
            }
            for p, d in sorted(files.items())
        ],
    )
    return bundle_view(row)


def bundle_view(row: dict) -> dict:
    return {
        k: row[k] for k in ("version", "manifest_sha256", "files", "size", "published_by", "published_at")
    }


def list_bundles(conn: Connection) -> list[dict]:
    rows = conn.execute(select(BUNDLES).order_by(BUNDLES.c.published_at.desc())).mappings()
    return [bundle_view(dict(r)) for r in rows]


def get_bundle(conn: Connection, version: str) -> dict:
    row = conn.execute(select(BUNDLES).where(BUNDLES.c.version == version)).mappings().first()
    if row is None:
        raise NotFound(f"no firmware {version}")
    files = conn.execute(
        select(FILES.c.path, FILES.c.size, FILES.c.sha256)
        .where(FILES.c.version == version)
        .order_by(FILES.c.path)
    ).mappings()
    return {**bundle_view(dict(row)), "file_list": [dict(f) for f in files]}


# --- rollouts -----------------------------------------------------------------------------------


def _order(version: str, device_id: str) -> str:
    """A stable, version-shuffled order: a share of the fleet grows by adding to one group."""
    return hashlib.sha256(f"{version}/{device_id}".encode()).hexdigest()


def _targets(
    conn: Connection, version: str, devices: list[str] | None, site: str | None, percent: int | None
) -> list[dict]:
    query = select(DEVICES.c.id, DEVICES.c.site, DEVICES.c.key_hex)
    if devices is not None:
        rows = [dict(r) for r in conn.execute(query.where(DEVICES.c.id.in_(devices))).mappings()]
        missing = sorted(set(devices) - {r["id"] for r in rows})
        if missing:
            raise NotFound(f"no device {', '.join(missing)}")
        return sorted(rows, key=lambda r: r["id"])
    if site is not None:
        query = query.where(DEVICES.c.site == site)
    rows = sorted((dict(r) for r in conn.execute(query).mappings()), key=lambda r: _order(version, r["id"]))
    if site is not None and not rows:
        raise NotFound(f"no device at site {site}")
    return rows[: math.ceil(len(rows) * (100 if percent is None else percent) / 100)]


def _troubles(conn: Connection, version: str) -> list[str]:
    """Devices that rolled the version back or refused its offer."""
    rows = conn.execute(
        select(UPDATES.c.device_id, UPDATES.c.state, COMMANDS.c.status)
        .select_from(UPDATES.outerjoin(COMMANDS, _offer_join()))
        .where(UPDATES.c.version == version)
    ).all()
    return sorted(d for d, state, status in rows if state == "rolled_back" or status == "refused")


def _offer_join():
    return (COMMANDS.c.device_id == UPDATES.c.device_id) & (COMMANDS.c.seq == UPDATES.c.seq)


def start_rollout(
    engine: Engine,
    version: str,
    devices: list[str] | None = None,
    site: str | None = None,
    percent: int | None = None,
    force: bool = False,
    by: str = "",
) -> tuple[dict, list[tuple[str, str, bytes]]]:
    """Store the rollout and an offer (command) for each device of the group not yet offered the
    version (a listed device whose update failed or was rolled back is offered it again):
    (its status, [(site, device id, encoded offer)] to publish)."""
    if devices is not None and (site is not None or percent is not None):
        raise Invalid("name devices, or a site and/or a percentage, not both")
    if percent is not None and not 1 <= percent <= 100:
        raise Invalid("percent: 1..100")
    with engine.begin() as conn:
        row = conn.execute(select(BUNDLES.c.manifest).where(BUNDLES.c.version == version)).first()
        if row is None:
            raise NotFound(f"no firmware {version}")
        manifest = row[0].encode()
        troubles = _troubles(conn, version)
        if troubles and not force:
            raise Conflict(
                f"{version} was rolled back or refused by {', '.join(troubles[:10])}: "
                "look at the rollout's status first (force to go on)"
            )
        target = devices if devices is not None else f"site {site or 'all'}, {percent or 100}%"
        rollout_id = conn.execute(
            ROLLOUTS.insert().values(
                version=version, target=str(target)[:500], created_by=by, created_at=utcnow()
            )
        ).inserted_primary_key[0]
        earlier = {
            r["device_id"]: r
            for r in conn.execute(select(UPDATES).where(UPDATES.c.version == version)).mappings()
        }
        offers = []
        for device in _targets(conn, version, devices, site, percent):
            prior = earlier.get(device["id"])
            if prior is not None and (devices is None or prior["state"] == "confirmed"):
                continue  # offered already (a share that grows), or it runs the version
            management._lock_device(conn, device["id"])
            body = {
                "k": manage.FW,
                "v": version,
                "size": len(manifest),
                "sig": signature(device["key_hex"], version, manifest),
            }
            seq, data = management.add_command(conn, device["id"], body)
            values = {
                "rollout_id": rollout_id,
                "seq": seq,
                "state": "offered",
                "reason": None,
                "offered_at": utcnow(),
                "ended_at": None,
            }
            if prior is None:
                conn.execute(UPDATES.insert().values(device_id=device["id"], version=version, **values))
            else:
                conn.execute(
                    update(UPDATES)
                    .where(UPDATES.c.device_id == device["id"], UPDATES.c.version == version)
                    .values(**values)
                )
            offers.append((device["site"], device["id"], data))
        return rollout_view(conn, rollout_id), offers


async def roll_out(bridge, engine: Engine, version: str, **group) -> dict:
    """start_rollout(), then publish the offers (one that cannot go out now goes out when its
    device comes online)."""
    status, offers = await asyncio.to_thread(start_rollout, engine, version, **group)
    for site, device_id, data in offers:
        await management.publish(bridge, site, device_id, [data])
    return status


def rollout_view(conn: Connection, rollout_id: int) -> dict:
    row = conn.execute(select(ROLLOUTS).where(ROLLOUTS.c.id == rollout_id)).mappings().first()
    if row is None:
        raise NotFound(f"no rollout {rollout_id}")
    devices = updates(conn, rollout_id=rollout_id)
    counts: dict[str, int] = {}
    for d in devices:
        counts[d["state"]] = counts.get(d["state"], 0) + 1
    return {**dict(row), "counts": counts, "devices": devices}


def list_rollouts(conn: Connection, version: str | None = None) -> list[dict]:
    query = select(ROLLOUTS.c.id).order_by(ROLLOUTS.c.id.desc())
    if version is not None:
        query = query.where(ROLLOUTS.c.version == version)
    return [rollout_view(conn, i) for i in conn.execute(query.limit(100)).scalars().all()]


def updates(conn: Connection, rollout_id: int | None = None, device_id: str | None = None) -> list[dict]:
    """Each update with its state as a person reads it: offered, staged, failed, confirmed,
    rolled_back; the reason of a failure or a rollback; the version the device last reported."""
    query = (
        select(
            UPDATES,
            COMMANDS.c.status.label("offer_status"),
            COMMANDS.c.code,
            COMMANDS.c.detail,
            HEALTH.c.fw.label("running"),
        )
        .select_from(
            UPDATES.outerjoin(COMMANDS, _offer_join()).outerjoin(
                HEALTH, HEALTH.c.device_id == UPDATES.c.device_id
            )
        )
        .order_by(UPDATES.c.device_id, UPDATES.c.offered_at)
    )
    if rollout_id is not None:
        query = query.where(UPDATES.c.rollout_id == rollout_id)
    if device_id is not None:
        query = query.where(UPDATES.c.device_id == device_id)
    out = []
    for r in conn.execute(query).mappings():
        state, reason = r["state"], r["reason"]
        if state == "offered" and r["offer_status"] == "applied":
            state = "staged"
        elif state == "offered" and r["offer_status"] == "refused":
            state, reason = "failed", f"{r['code']}: {r['detail'] or ''}".strip(": ")
        out.append(
            {
                "device_id": r["device_id"],
                "version": r["version"],
                "rollout_id": r["rollout_id"],
                "seq": r["seq"],
                "state": state,
                "reason": reason,
                "running": r["running"],
                "offered_at": r["offered_at"],
                "ended_at": r["ended_at"],
            }
        )
    return out


# --- what controllers ask (the bridge hands it over, in its event loop) -------------------------

_CACHE_S = 30.0
# Per database: version -> path -> bytes (bundles never change); (device, version) -> until when
# its "get"s are served without asking the database again.
_files: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_offered: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_tasks: set[asyncio.Task] = set()


def receive(bridge, site: str, device_id: str, body: dict) -> None:
    """A checked up/fw body from a device. A piece of a bundle already in memory, for a device
    known to have been offered it, is answered at once; the rest in a task, with the database
    in a thread."""
    if body["k"] == "get":
        reply = _cached_piece(bridge.authorizer.engine, device_id, body)
        if reply is not None:
            _publish(bridge, site, device_id, reply, 0)
            return
    task = asyncio.get_running_loop().create_task(_answer(bridge, site, device_id, body))
    _tasks.add(task)
    task.add_done_callback(_tasks.discard)


async def _answer(bridge, site: str, device_id: str, body: dict) -> None:
    try:
        reply = await asyncio.to_thread(answer, bridge.authorizer.engine, device_id, body)
        if reply is not None:
            # A piece lost is asked for again; a confirmation is worth a PUBACK.
            _publish(bridge, site, device_id, reply, 0 if body["k"] == "get" else 1)
    except Exception:  # one device's ask must never take the bridge down
        log.exception("answering %s's %s failed", device_id, body.get("k"))


def _publish(bridge, site: str, device_id: str, reply: bytes, qos: int) -> None:
    client = bridge.client
    info = bridge.directory.get(site, device_id)
    if client is None or info is None:
        return
    topic = topics.down(site, device_id, topics.FW)
    client.publish(topic, info.signer.seal(topic, reply), qos=qos)


def _cached_piece(engine: Engine, device_id: str, body: dict) -> bytes | None:
    version = body["v"]
    files = _files.get(engine, {}).get(version)
    if files is None or _offered.get(engine, {}).get((device_id, version), 0) <= time.monotonic():
        return None
    return _slice(files, version, body["f"], body["o"])


def answer(engine: Engine, device_id: str, body: dict) -> bytes | None:
    """The dn/fw body answering an up/fw body, or None."""
    version = body["v"]
    if body["k"] == "get":
        return _piece(engine, device_id, version, body["f"], body["o"])
    if body["k"] == "hello":
        with engine.begin() as conn:
            done = conn.execute(
                update(UPDATES)
                .where(
                    UPDATES.c.device_id == device_id,
                    UPDATES.c.version == version,
                    UPDATES.c.state.in_(("offered", "confirmed")),
                )
                .values(state="confirmed", ended_at=utcnow())
            ).rowcount
        if not done:
            log.warning("%s runs %s on trial, which it was not offered", device_id, version)
            return None
        return messages.encode({"ok": version, "n": body["n"]})
    with engine.begin() as conn:  # "back": the version did not hold
        conn.execute(
            update(UPDATES)
            .where(UPDATES.c.device_id == device_id, UPDATES.c.version == version)
            .values(state="rolled_back", reason=body["why"][:100] or None, ended_at=utcnow())
        )
    log.warning("%s went back from firmware %s: %s", device_id, version, body["why"])
    return None


def _piece(engine: Engine, device_id: str, version: str, name: str, offset: int) -> bytes:
    files = _bundle_files(engine, version) if _may_fetch(engine, device_id, version) else None
    return _slice(files or {}, version, name, offset)


def _slice(files: dict[str, bytes], version: str, name: str, offset: int) -> bytes:
    """A piece as large as a message allows: b'<head>\\n<bytes>'."""
    head = messages.encode({"v": version, "f": name, "o": offset})
    if name not in files:
        return messages.encode({"v": version, "f": name, "o": offset, "err": "not offered"})
    return head + b"\n" + files[name][offset : offset + messages.MAX_BODY - len(head) - 1]


def _may_fetch(engine: Engine, device_id: str, version: str) -> bool:
    key = (device_id, version)
    offered = _offered.setdefault(engine, {})
    if offered.get(key, 0) > time.monotonic():
        return True
    with engine.connect() as conn:
        state = conn.execute(
            select(UPDATES.c.state).where(UPDATES.c.device_id == device_id, UPDATES.c.version == version)
        ).scalar()
    if state != "offered":
        return False
    offered[key] = time.monotonic() + _CACHE_S
    return True


def _bundle_files(engine: Engine, version: str) -> dict[str, bytes] | None:
    cached = _files.setdefault(engine, {})
    files = cached.get(version)
    if files is None:
        with engine.connect() as conn:
            manifest = conn.execute(select(BUNDLES.c.manifest).where(BUNDLES.c.version == version)).scalar()
            if manifest is None:
                return None
            rows = conn.execute(select(FILES.c.path, FILES.c.data).where(FILES.c.version == version)).all()
        files = {path: bytes(data) for path, data in rows}
        files["manifest"] = manifest.encode()
        cached[version] = files
    return files
