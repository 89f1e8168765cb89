"""The one place where errors become HTTP answers.

- hub.core.errors.DomainError and its subclasses: the class's `status` (NotFound 404, Conflict
  409 — LedgerError, InsufficientFunds, PointsError, GiftError —, Invalid 422) with
  {"detail": message}, a message a cash register's programmer can act on.
- protocol.ProtocolError: a device command that breaks the protocol (a config value the
  device would refuse, a deny list too long): 422.
- fastapi's RequestValidationError: 422 with FastAPI's list of errors, each value it quotes
  made fit for JSON (NaN and Infinity, which Python's JSON parser accepts in a body, become
  strings; the default handler failed to serialise them and answered 500).

Nothing else. A library's ValueError (or any other exception) is a bug: it answers 500 and is
logged, and its internal message never reaches a client. Routes do not catch these errors
themselves.
"""

from __future__ import annotations

import math
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from hub.core.errors import DomainError, TooMany
from protocol import ProtocolError


async def domain_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DomainError)
    headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, TooMany) else None
    return JSONResponse({"detail": str(exc)}, status_code=exc.status, headers=headers)


async def protocol_error(_request: Request, exc: Exception) -> JSONResponse:
    return JSONResponse({"detail": str(exc)}, status_code=422)


class Message(BaseModel):
    """A refusal the domain explains (hub.core.errors)."""

    detail: str = Field(description="what is wrong, for a cash register's programmer")


class ValidationIssue(BaseModel):
    """One way the request does not fit the schema (FastAPI's validation error)."""

    model_config = ConfigDict(extra="allow")
    loc: list[str | int]
    msg: str
    type: str


class InvalidRequest(BaseModel):
    """422: the request does not fit the schema (a list of issues) or the domain refuses a
    value (a message)."""

    detail: str | list[ValidationIssue]


# What every operation may answer besides its success, documented once (api_router).
RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"model": Message, "description": "A request the domain refuses"},
    401: {"model": Message, "description": "No credentials, or credentials not valid"},
    403: {"model": Message, "description": "The caller lacks the permission, or acts outside their outlet"},
    404: {"model": Message, "description": "Something named in the request does not exist"},
    409: {
        "model": Message,
        "description": "A conflict with the current state (a used key, too little balance)",
    },
    422: {
        "model": InvalidRequest,
        "description": "A request that does not fit the schema, or a value refused",
    },
    429: {"model": Message, "description": "Too many requests (or wrong passwords): see Retry-After"},
}


def _json_safe(value: Any) -> Any:
    """value with every float JSON cannot carry (NaN, Infinity) as its string."""
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    return value


async def validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return JSONResponse({"detail": _json_safe(jsonable_encoder(exc.errors()))}, status_code=422)


def install(app: FastAPI) -> None:
    app.add_exception_handler(DomainError, domain_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(ProtocolError, protocol_error)
