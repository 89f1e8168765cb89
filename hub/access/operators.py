"""Operators (people): their passwords, logins with throttling and lock-out, and sessions.

Passwords are hashed with argon2 through pwdlib. A wrong password counts; from the
THROTTLE_AFTER-th in a row each try waits longer (1 s, 2 s, 4 s, …), and at LOCK_AFTER the
account locks for LOCK_FOR. The state lives in the operators table, so it holds across hubs.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets

from pwdlib import PasswordHash
from sqlalchemy import Connection, select, update

from hub.access import audit
from hub.access.callers import Caller, check_scope_exists
from hub.access.roles import ROLES, role_permissions
from hub.core.clock import utcnow
from hub.core.errors import Conflict, Forbidden, Invalid, NotFound, TooMany
from hub.tables.access import Operator, OperatorSession

OPERATORS = Operator.__table__
SESSIONS = OperatorSession.__table__

THROTTLE_AFTER = 3
LOCK_AFTER = 10
LOCK_FOR = dt.timedelta(minutes=15)
SESSION_TTL = {"cookie": dt.timedelta(hours=12), "bearer": dt.timedelta(hours=1)}
MIN_PASSWORD = 10

_hasher = PasswordHash.recommended()
# Verified against when the user name is unknown, so that the answer takes as long.
_DUMMY = _hasher.hash(secrets.token_hex(8))


class LoginFailed(Exception):
    """Wrong user name or password (the API answers 401 without saying which)."""


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise Invalid(f"a password has at least {MIN_PASSWORD} characters")
    return _hasher.hash(password)


def add_operator(
    conn: Connection,
    username: str,
    password: str,
    role: str,
    site_id: str | None = None,
    outlet_id: str | None = None,
    locale: str = "en",
) -> dict:
    if role not in ROLES:
        raise Invalid(f"unknown role {role!r}: one of {', '.join(ROLES)}")
    if conn.execute(select(OPERATORS.c.id).where(OPERATORS.c.username == username)).first():
        raise Conflict(f"user {username} exists")
    check_scope_exists(conn, site_id, outlet_id)
    conn.execute(
        OPERATORS.insert().values(
            username=username,
            password_hash=hash_password(password),
            role=role,
            site_id=site_id,
            outlet_id=outlet_id,
            locale=locale,
            created_at=utcnow(),
        )
    )
    return operator_view(conn, username)


def operator_view(conn: Connection, username: str) -> dict:
    row = conn.execute(select(OPERATORS).where(OPERATORS.c.username == username)).mappings().first()
    if row is None:
        raise NotFound(f"no user {username}")
    return {k: row[k] for k in ("id", "username", "role", "site_id", "outlet_id", "locale", "disabled")} | {
        "locked_until": row["locked_until"]
    }


def list_operators(conn: Connection, outlets: set[str] | None) -> list[dict]:
    query = select(OPERATORS.c.username).order_by(OPERATORS.c.username)
    if outlets is not None:
        query = query.where(OPERATORS.c.outlet_id.in_(outlets))
    return [operator_view(conn, name) for name in conn.execute(query).scalars()]


def _stored(conn: Connection, username: str):
    return conn.execute(select(OPERATORS).where(OPERATORS.c.username == username)).mappings().first()


def check_password(conn: Connection, username: str, password: str, now: dt.datetime) -> int:
    """The operator's id if the password is right; counts a wrong one (TooMany while the
    account waits or is locked, LoginFailed otherwise). Commit the transaction either way."""
    row = _stored(conn, username)
    if row is None or row["disabled"]:
        _hasher.verify(password, _DUMMY)
        raise LoginFailed()
    for until in (row["locked_until"], row["next_try_at"]):
        if until is not None and until > now:
            raise TooMany("too many wrong passwords: try again later", _seconds(until - now))
    if _hasher.verify(password, row["password_hash"]):
        conn.execute(
            update(OPERATORS)
            .where(OPERATORS.c.id == row["id"])
            .values(failed_logins=0, next_try_at=None, locked_until=None)
        )
        return row["id"]
    failed = row["failed_logins"] + 1
    wait = dt.timedelta(seconds=2 ** (failed - THROTTLE_AFTER)) if failed >= THROTTLE_AFTER else None
    conn.execute(
        update(OPERATORS)
        .where(OPERATORS.c.id == row["id"])
        .values(
            failed_logins=failed,
            next_try_at=now + wait if wait else None,
            locked_until=now + LOCK_FOR if failed >= LOCK_AFTER else None,
        )
    )
    raise LoginFailed()


def log_in(
    conn: Connection, username: str, password: str, kind: str, now: dt.datetime, source: str = ""
) -> dict:
    """A login as the API and the console make it: {"token", "expires_at", "role"}, or
    {"failed": True} (wrong name or password), or {"wait": seconds} (throttled or locked).
    A wrong password is counted, so the outcome is returned, not raised, and the transaction
    is committed either way; each attempt is in the audit log (login, login_failed,
    login_throttled) with the name tried and where from."""
    try:
        operator_id = check_password(conn, username, password, now)
    except LoginFailed:
        _note(conn, username, "", "login_failed", source, now)
        return {"failed": True}
    except TooMany as exc:
        _note(conn, username, "", "login_throttled", source, now)
        return {"wait": exc.retry_after}
    token, expires = start_session(conn, operator_id, kind, now)
    role = operator_view(conn, username)["role"]
    _note(conn, username, role, "login", source, now, {"session": kind})
    return {"token": token, "expires_at": expires, "role": role}


def _note(
    conn: Connection, username: str, role: str, action: str, source: str, now: dt.datetime, after=None
) -> None:
    who = Caller("operator", username[:100], role, frozenset())
    change = audit.Change(who, action, "POST", "login", source, {"username": username[:100]})
    audit.record(conn, change, after, now)


def _seconds(delta: dt.timedelta) -> int:
    return max(1, int(delta.total_seconds() + 0.999))


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start_session(conn: Connection, operator_id: int, kind: str, now: dt.datetime) -> tuple[str, dt.datetime]:
    """A new session's token (given to the client once) and its expiry."""
    token = "ts_" + secrets.token_urlsafe(32)
    expires = now + SESSION_TTL[kind]
    conn.execute(
        SESSIONS.insert().values(
            token_hash=_token_hash(token),
            operator_id=operator_id,
            kind=kind,
            expires_at=expires,
            created_at=now,
        )
    )
    return token, expires


def end_session(conn: Connection, token: str, now: dt.datetime) -> None:
    conn.execute(update(SESSIONS).where(SESSIONS.c.token_hash == _token_hash(token)).values(ended_at=now))


def session_caller(conn: Connection, token: str, now: dt.datetime) -> Caller | None:
    """The operator a live session belongs to; None for an unknown, ended or expired one, or a
    disabled operator."""
    row = (
        conn.execute(
            select(OPERATORS, SESSIONS.c.expires_at, SESSIONS.c.ended_at)
            .join(SESSIONS, SESSIONS.c.operator_id == OPERATORS.c.id)
            .where(SESSIONS.c.token_hash == _token_hash(token))
        )
        .mappings()
        .first()
    )
    if row is None or row["ended_at"] is not None or row["expires_at"] <= now or row["disabled"]:
        return None
    return Caller(
        "operator",
        row["username"],
        row["role"],
        role_permissions(row["role"]),
        row["site_id"],
        row["outlet_id"],
    )


def change_operator(
    conn: Connection,
    actor: Caller,
    username: str,
    *,
    password: str | None = None,
    disabled: bool | None = None,
    role: str | None = None,
    now: dt.datetime,
) -> dict:
    """An admin's (or a manager's, for their outlets' users) change: a new password (which
    also unlocks), disabling (which ends the user's sessions), another role."""
    row = _stored(conn, username)
    if row is None:
        raise NotFound(f"no user {username}")
    check_may_manage(actor, row["role"] if role is None else role, row["site_id"], row["outlet_id"])
    check_may_manage(actor, row["role"], row["site_id"], row["outlet_id"])
    values: dict = {}
    if password is not None:
        values |= {"password_hash": hash_password(password), "failed_logins": 0, "next_try_at": None}
        values["locked_until"] = None
    if disabled is not None:
        values["disabled"] = disabled
    if role is not None:
        if role not in ROLES:
            raise Invalid(f"unknown role {role!r}: one of {', '.join(ROLES)}")
        values["role"] = role
    if values:
        conn.execute(update(OPERATORS).where(OPERATORS.c.id == row["id"]).values(**values))
    if disabled or password is not None:
        conn.execute(
            update(SESSIONS)
            .where(SESSIONS.c.operator_id == row["id"], SESSIONS.c.ended_at.is_(None))
            .values(ended_at=now)
        )
    return operator_view(conn, username)


def check_may_manage(actor: Caller, role: str, site_id: str | None, outlet_id: str | None) -> None:
    """An operator manages users with no more rights than their own, in their own scope."""
    if not role_permissions(role) <= actor.permissions:
        raise Forbidden(f"you may not manage users of role {role}")
    if actor.outlet_id is not None and outlet_id != actor.outlet_id:
        raise Forbidden("you may manage only the users of your outlet")
    if actor.site_id is not None and site_id != actor.site_id and outlet_id is None:
        raise Forbidden("you may manage only the users of your site")
