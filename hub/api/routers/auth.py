"""Operators log in and out (/api/v1/auth): a session cookie for the console or a short-lived
bearer token for scripts; /auth/me says who the caller is and what they may do."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from pydantic import BaseModel, Field

from hub.access import operators
from hub.access.callers import Caller
from hub.api.auth import SESSION_COOKIE, authenticate, client_address, set_session_cookie
from hub.api.deps import DbDep
from hub.core.clock import utcnow

router = APIRouter(tags=["access"])


class LoginIn(BaseModel):
    username: str = Field(min_length=1, max_length=100)
    password: str = Field(min_length=1, max_length=200)
    session: Literal["bearer", "cookie"] = Field(
        "bearer", description="bearer: a token in the answer (1 h); cookie: an HttpOnly cookie (12 h)"
    )


class LoginOut(BaseModel):
    session: str
    token: str | None = Field(None, description="the bearer token; None for a cookie session")
    expires_at: dt.datetime
    role: str


class Me(BaseModel):
    kind: str
    name: str
    role: str
    site_id: str | None
    outlet_id: str | None
    permissions: list[str]


@router.post("/auth/login", response_model=LoginOut)
def login(body: LoginIn, db: DbDep, request: Request, response: Response):
    """Log in with a user name and password. Wrong passwords slow further tries down (429 with
    Retry-After), ten in a row lock the account for 15 minutes."""
    done = db.write(
        operators.log_in, body.username, body.password, body.session, utcnow(), client_address(request)
    )
    if done.get("wait"):
        raise HTTPException(
            429, "too many wrong passwords: try again later", {"Retry-After": str(done["wait"])}
        )
    if done.get("failed"):
        raise HTTPException(401, "wrong user name or password", {"WWW-Authenticate": "Bearer"})
    if body.session == "cookie":
        set_session_cookie(response, done["token"])
        return {"session": "cookie", "token": None, "expires_at": done["expires_at"], "role": done["role"]}
    return {"session": "bearer", **done}


@router.post("/auth/logout", status_code=204)
def logout(request: Request, db: DbDep, response: Response, caller: Annotated[Caller, Depends(authenticate)]):
    """End this session (its token or cookie stops working at once)."""
    header = request.headers.get("authorization", "")
    token = header[7:] if header.lower().startswith("bearer ") else request.cookies.get(SESSION_COOKIE)
    if caller.kind != "operator" or not token:
        raise HTTPException(400, "an API key has no session: an admin revokes it")
    db.write(operators.end_session, token, utcnow())
    response.delete_cookie(SESSION_COOKIE)
    response.status_code = 204
    return None


@router.get("/auth/me", response_model=Me)
def me(caller: Annotated[Caller, Depends(authenticate)]):
    """Who the credentials stand for and what they may do."""
    return {
        "kind": caller.kind,
        "name": caller.name,
        "role": caller.role,
        "site_id": caller.site_id,
        "outlet_id": caller.outlet_id,
        "permissions": sorted(caller.permissions),
    }
