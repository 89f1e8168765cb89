"""Every request's identity and right. A route names the permission it needs:

    @router.post("/cards/{uid}/topups")
    def top_up(uid: CardUid, caller: Allowed.money_topup, ...):

A caller is an API key (header X-API-Key: `<id>.<secret>`), an operator's bearer token
(Authorization: Bearer …, from POST /auth/login) or the console's session cookie. Without one:
401; without the permission: 403 (hub/access/roles.py is the table). Either way nothing is
booked: the check runs before the route. API keys are held to their rate per minute (429).
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request, Response, Security
from fastapi.security import (
    APIKeyCookie,
    APIKeyHeader,
    HTTPAuthorizationCredentials,
    HTTPBearer,
    SecurityScopes,
)

from hub.access import keys, operators
from hub.access.callers import Caller
from hub.access.roles import PERMISSIONS
from hub.core.clock import utcnow
from hub.core.errors import TooMany

SESSION_COOKIE = "tapgift_session"

api_key_header = APIKeyHeader(
    name="X-API-Key", auto_error=False, description="an API key `<id>.<secret>` made by an admin"
)
bearer = HTTPBearer(auto_error=False, description="an operator's token from POST /api/v1/auth/login")
session_cookie = APIKeyCookie(name=SESSION_COOKIE, auto_error=False, description="the console's session")


def set_session_cookie(response: Response, token: str) -> None:
    """The console's session: HttpOnly (no script reads it), Secure (https or localhost only),
    SameSite=strict (no other site's page sends it), for as long as the session lives."""
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=int(operators.SESSION_TTL["cookie"].total_seconds()),
        httponly=True,
        secure=True,
        samesite="strict",
    )


def client_address(request: Request) -> str:
    """Where a request came from, for the audit log ("" when the server cannot tell)."""
    return request.client.host if request.client else ""


def _identify(request: Request, key: str | None, token: str | None) -> Caller | None:
    db = request.app.state.db
    now = utcnow()
    if key:
        return db.read_one(keys.key_caller, key, now)
    if token:
        return db.read(operators.session_caller, token, now)
    return None


def authenticate(
    request: Request,
    key: Annotated[str | None, Depends(api_key_header)],
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    cookie: Annotated[str | None, Depends(session_cookie)],
) -> Caller:
    """The caller (looked up once per request), or 401."""
    if hasattr(request.state, "caller"):
        return request.state.caller
    token = credentials.credentials if credentials else cookie
    caller = _identify(request, key, token)
    if caller is None:
        reason = (
            "credentials not valid (unknown, expired or revoked)" if key or token else "credentials needed"
        )
        raise HTTPException(401, reason, headers={"WWW-Authenticate": "Bearer"})
    if caller.rate_per_minute is not None:
        try:
            request.app.state.rate_limiter.check(caller.name, caller.rate_per_minute)
        except TooMany as exc:
            raise HTTPException(429, str(exc), headers={"Retry-After": str(exc.retry_after)}) from None
    request.state.caller = caller
    return caller


async def permitted(scopes: SecurityScopes, caller: Annotated[Caller, Depends(authenticate)]) -> Caller:
    # async although it waits for nothing: a plain def would cost every request a thread-pool hop
    missing = [p for p in scopes.scopes if not caller.may(p)]
    if missing:
        raise HTTPException(403, f"{caller.role} {caller.name} lacks the permission {', '.join(missing)}")
    return caller


def _allowed(permission: str) -> Any:
    return Annotated[Caller, Security(permitted, scopes=[permission])]


# `Allowed.money_topup`: a Caller parameter that requires the permission money.topup; one
# attribute per permission of hub/access/roles.py (a misspelt one fails at import).
Allowed = SimpleNamespace(**{p.replace(".", "_"): _allowed(p) for p in PERMISSIONS})
