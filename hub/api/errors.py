"""The one place where errors become HTTP answers.

- hub.core.errors.DomainError and its subclasses: the class's `status` (NotFound 404, Conflict
  409 — LedgerError, InsufficientFunds, PointsError, GiftError —, Invalid 422) with
  {"detail": message}, a message a cash register's programmer can act on.
- protocol.ProtocolError: a device command that breaks the protocol (a config value the
  device would refuse, a deny list too long): 422.

Nothing else. A library's ValueError (or any other exception) is a bug: it answers 500 and is
logged, and its internal message never reaches a client. Routes do not catch these errors
themselves.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from hub.core.errors import DomainError
from protocol import ProtocolError


async def domain_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DomainError)
    return JSONResponse({"detail": str(exc)}, status_code=exc.status)


async def protocol_error(_request: Request, exc: Exception) -> JSONResponse:
    return JSONResponse({"detail": str(exc)}, status_code=422)


def install(app: FastAPI) -> None:
    app.add_exception_handler(DomainError, domain_error)
    app.add_exception_handler(ProtocolError, protocol_error)
