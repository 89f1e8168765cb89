"""Operators (/api/v1/users): an admin adds them, resets a password (which also unlocks),
changes a role or disables one (which ends their sessions); a manager does so for the users of
their outlet, never giving more rights than their own."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field
from sqlalchemy import Connection

from hub.access import operators
from hub.access.callers import Caller
from hub.api.auth import Allowed
from hub.api.deps import DbDep
from hub.api.fields import Flag, Slug
from hub.core.clock import utcnow

router = APIRouter(tags=["access"])

Username = Field(pattern=r"^[A-Za-z0-9_.@-]{1,64}$")


class UserIn(BaseModel):
    username: str = Username
    password: str = Field(min_length=operators.MIN_PASSWORD, max_length=200)
    role: str = Field(description="admin, manager, cashier, kiosk or auditor")
    site_id: Slug | None = None
    outlet_id: Slug | None = None
    locale: str = Field("en", pattern=r"^(en|de)$")


class UserChange(BaseModel):
    password: str | None = Field(None, min_length=operators.MIN_PASSWORD, max_length=200)
    disabled: Flag | None = None
    role: str | None = None


class UserOut(BaseModel):
    id: int
    username: str
    role: str
    site_id: str | None
    outlet_id: str | None
    locale: str
    disabled: bool


def _add(conn: Connection, caller: Caller, body: UserIn) -> dict:
    operators.check_may_manage(caller, body.role, body.site_id, body.outlet_id)
    if body.outlet_id is not None:
        caller.check_outlet(conn, body.outlet_id)
    return operators.add_operator(
        conn, body.username, body.password, body.role, body.site_id, body.outlet_id, body.locale
    )


@router.get("/users", response_model=list[UserOut])
def list_users(db: DbDep, caller: Allowed.users_manage):
    return db.read(lambda conn: operators.list_operators(conn, caller.outlet_filter(conn)))


@router.post("/users", response_model=UserOut, status_code=201)
def add_user(body: UserIn, db: DbDep, caller: Allowed.users_manage):
    return db.write(_add, caller, body)


@router.patch("/users/{username}", response_model=UserOut)
def change_user(username: str, body: UserChange, db: DbDep, caller: Allowed.users_manage):
    return db.write(
        lambda conn: operators.change_operator(
            conn,
            caller,
            username,
            password=body.password,
            disabled=body.disabled,
            role=body.role,
            now=utcnow(),
        ),
        before=lambda conn: operators.operator_view(conn, username),
    )
