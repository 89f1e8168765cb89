"""The audit log (/api/v1/audit): every change made by a person or a key — who, from where,
when, what (before → after, the transfers for money) — filtered, paged, and as CSV."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response
from pydantic import BaseModel

from hub.access import audit
from hub.access.callers import Caller
from hub.api.auth import Allowed
from hub.api.deps import DbDep
from hub.api.fields import MAX_ROW_ID, Moment

router = APIRouter(tags=["access"])


class AuditOut(BaseModel):
    id: int
    at: dt.datetime
    actor_kind: str
    actor: str
    role: str
    source: str
    action: str
    method: str
    path: str
    outlet_id: str | None
    target: dict
    request: Any
    before: Any
    after: Any
    transfers: list[str]
    amount: int


def _filters(
    actor: Annotated[str | None, Query(max_length=100)] = None,
    outlet_id: Annotated[str | None, Query(max_length=40)] = None,
    action: Annotated[str | None, Query(max_length=100)] = None,
    since: Moment | None = None,
    until: Moment | None = None,
) -> dict:
    """The filters both listings take (hub.access.audit.query's)."""
    return {"actor": actor, "outlet_id": outlet_id, "action": action, "since": since, "until": until}


Filters = Annotated[dict, Depends(_filters)]


def _query(db: DbDep, caller: Caller, **filters) -> list[dict]:
    return db.read(lambda conn: audit.query(conn, outlets=caller.outlet_filter(conn), **filters))


@router.get("/audit", response_model=list[AuditOut])
def audit_log(
    db: DbDep,
    caller: Allowed.audit_read,
    filters: Filters,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    before_id: Annotated[
        int | None, Query(ge=1, le=MAX_ROW_ID, description="page: entries older than this id")
    ] = None,
):
    """Entries newest first (a scoped caller sees their outlets' only)."""
    return _query(db, caller, **filters, limit=limit, before_id=before_id)


@router.get(
    "/audit.csv",
    response_class=Response,
    responses={200: {"content": {"text/csv": {"schema": {"type": "string"}}}}},
)
def audit_csv(
    db: DbDep,
    caller: Allowed.audit_read,
    filters: Filters,
    limit: Annotated[int, Query(ge=1, le=100_000)] = 10_000,
):
    """The same entries as CSV (JSON columns as JSON text)."""
    return Response(audit.to_csv(_query(db, caller, **filters, limit=limit)), media_type="text/csv")
