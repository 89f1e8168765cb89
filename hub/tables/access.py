"""Who may do what at the hub: operators (people) and their sessions, API keys (tills, web
shops, other systems), and the audit log of every change they make."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, BigInteger, Column, Index
from sqlmodel import Field, SQLModel

from hub.tables.types import created, json_list, moment


class Operator(SQLModel, table=True):
    """A person who logs in: an admin, a manager, a cashier, an auditor. `site_id` or
    `outlet_id` narrows what they see and book (both None: everything)."""

    __tablename__ = "operators"
    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(unique=True)
    password_hash: str  # argon2 (pwdlib); never the password
    role: str
    site_id: str | None = Field(default=None, foreign_key="sites.id")
    outlet_id: str | None = Field(default=None, foreign_key="outlets.id")
    locale: str = "en"
    disabled: bool = False
    # Wrong passwords in a row; past a threshold each try waits, then the account locks.
    failed_logins: int = 0
    next_try_at: dt.datetime | None = moment()
    locked_until: dt.datetime | None = moment()
    created_at: dt.datetime = created()


class OperatorSession(SQLModel, table=True):
    """A login: a console cookie or a short-lived bearer token, stored as its SHA-256."""

    __tablename__ = "operator_sessions"
    token_hash: str = Field(primary_key=True)
    operator_id: int = Field(foreign_key="operators.id", index=True)
    kind: str  # cookie, bearer
    expires_at: dt.datetime = moment(nullable=False)
    ended_at: dt.datetime | None = moment()
    created_at: dt.datetime = created()


class ApiKey(SQLModel, table=True):
    """A key for a system (a till, a web shop, a kiosk): its secret is shown once and kept
    only as its SHA-256 (a random 256-bit secret needs no slow hash)."""

    __tablename__ = "api_keys"
    id: str = Field(primary_key=True)  # the public part, e.g. "tk_3f9a…"
    secret_hash: str
    name: str = ""
    role: str
    permissions: list = json_list()  # a subset of the role's; empty: all of the role's
    site_id: str | None = Field(default=None, foreign_key="sites.id")
    outlet_id: str | None = Field(default=None, foreign_key="outlets.id")
    rate_per_minute: int = 600
    expires_at: dt.datetime | None = moment()
    revoked_at: dt.datetime | None = moment()
    created_by: str = ""
    created_at: dt.datetime = created()


class ApiKeyRate(SQLModel, table=True):
    """Each hub process's count of a key's requests in the last minute, shared every second so
    that a key's rate per minute holds across hubs (hub.access.limits.RateLimiter)."""

    __tablename__ = "api_key_rates"
    hub: str = Field(primary_key=True)  # a random id per process
    key_id: str = Field(primary_key=True)
    requests: int
    counted_at: dt.datetime = moment(nullable=False)


class AuditEntry(SQLModel, table=True):
    """One change made by a person or a key, written in the change's own transaction.
    Append-only: the migration adds triggers that refuse UPDATE and DELETE."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_actor_action_at", "actor", "action", "at"),)
    id: int | None = Field(default=None, primary_key=True)
    at: dt.datetime = created()
    actor_kind: str  # operator, key
    actor: str  # a user name or a key id
    role: str
    source: str = ""  # the client's address
    action: str  # the route's name, e.g. top_up, change_device
    method: str
    path: str
    outlet_id: str | None = Field(default=None, index=True)
    target: dict = Field(sa_column=Column(JSON, nullable=False))  # the path's parameters
    request: dict | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    before: dict | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    after: dict | list | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    transfers: list = json_list()
    amount: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))  # money moved
