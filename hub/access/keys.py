"""API keys for systems (tills, web shops, kiosks, the central office): made by an admin,
shown once as `<id>.<secret>`, kept as the SHA-256 of the secret, scoped to an outlet, a site
or everything and to a set of permissions, with an expiry; revoked at once."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets

from sqlalchemy import Connection, select, update

from hub.access.callers import Caller, check_scope_exists
from hub.access.roles import ROLES, role_permissions
from hub.core.errors import Forbidden, Invalid, NotFound
from hub.tables.access import ApiKey

KEYS = ApiKey.__table__


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create_key(
    conn: Connection,
    actor: Caller,
    *,
    name: str,
    role: str,
    permissions: list[str] | None = None,
    site_id: str | None = None,
    outlet_id: str | None = None,
    expires_at: dt.datetime | None = None,
    rate_per_minute: int = 600,
    now: dt.datetime,
) -> dict:
    """A new key; the answer's `key` is the only time its secret is shown."""
    if role not in ROLES:
        raise Invalid(f"unknown role {role!r}: one of {', '.join(ROLES)}")
    allowed = role_permissions(role)
    wanted = frozenset(permissions or allowed)
    if not wanted <= allowed:
        raise Invalid(f"role {role} does not hold {', '.join(sorted(wanted - allowed))}")
    if not wanted <= actor.permissions:
        raise Forbidden("a key cannot hold rights its maker lacks")
    check_scope_exists(conn, site_id, outlet_id)
    if expires_at is not None and expires_at <= now:
        raise Invalid("expires_at is in the past")
    key_id = "tk_" + secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    conn.execute(
        KEYS.insert().values(
            id=key_id,
            secret_hash=_hash(secret),
            name=name,
            role=role,
            permissions=sorted(wanted),
            site_id=site_id,
            outlet_id=outlet_id,
            rate_per_minute=rate_per_minute,
            expires_at=expires_at,
            created_by=actor.name,
            created_at=now,
        )
    )
    return key_view(conn, key_id) | {"key": f"{key_id}.{secret}"}


def key_view(conn: Connection, key_id: str) -> dict:
    row = conn.execute(select(KEYS).where(KEYS.c.id == key_id)).mappings().first()
    if row is None:
        raise NotFound(f"no key {key_id}")
    return {k: v for k, v in row.items() if k != "secret_hash"}


def list_keys(conn: Connection) -> list[dict]:
    ids = conn.execute(select(KEYS.c.id).order_by(KEYS.c.created_at)).scalars()
    return [key_view(conn, i) for i in ids]


def revoke_key(conn: Connection, key_id: str, now: dt.datetime) -> dict:
    if conn.execute(update(KEYS).where(KEYS.c.id == key_id).values(revoked_at=now)).rowcount == 0:
        raise NotFound(f"no key {key_id}")
    return key_view(conn, key_id)


_CALLER_COLUMNS = (
    "id",
    "secret_hash",
    "role",
    "permissions",
    "site_id",
    "outlet_id",
    "rate_per_minute",
    "revoked_at",
    "expires_at",
)
_BY_ID = f"SELECT {', '.join(_CALLER_COLUMNS)} FROM api_keys WHERE id = %s"


def _caller_row(conn: Connection, key_id: str) -> dict | None:
    """The key's row as every request reads it: on PostgreSQL at the driver level (a third
    of the CPU of a SQLAlchemy statement; the driver reads JSON and aware times itself)."""
    if conn.dialect.name != "postgresql":
        return conn.execute(select(KEYS).where(KEYS.c.id == key_id)).mappings().first()
    cursor = conn.connection.dbapi_connection.cursor()
    try:
        row = cursor.execute(_BY_ID, (key_id,)).fetchone()
    finally:
        cursor.close()
    return None if row is None else dict(zip(_CALLER_COLUMNS, row, strict=True))


def key_caller(conn: Connection, presented: str, now: dt.datetime) -> Caller | None:
    """The caller a presented `<id>.<secret>` stands for; None for a wrong, revoked or
    expired key. Read from the database on every request: a key revoked by any hub is
    refused by every hub from the next request on."""
    key_id, _, secret = presented.partition(".")
    row = _caller_row(conn, key_id)
    if row is None or not hmac.compare_digest(row["secret_hash"], _hash(secret)):
        return None
    if row["revoked_at"] is not None or (row["expires_at"] is not None and row["expires_at"] <= now):
        return None
    return Caller(
        "key",
        row["id"],
        row["role"],
        frozenset(row["permissions"]) & role_permissions(row["role"]),
        row["site_id"],
        row["outlet_id"],
        row["rate_per_minute"],
    )
