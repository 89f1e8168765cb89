"""The audit log (/api/v1/audit): every change made by a person or a key — who, from where,
when, what (before → after, the transfers for money) — filtered, paged, and as CSV."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Query
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


class Filters(BaseModel):
    actor: str | None = None
    outlet_id: str | None = None
    action: str | None = None
    since: Moment | None = None
    until: Moment | None = None
    limit: int = 100
    before_id: int | None = None


def _query(db: DbDep, caller: Caller, filters: Filters) -> list[dict]:
    return db.read(lambda conn: audit.query(conn, outlets=caller.outlet_filter(conn), **filters.model_dump()))


@router.get("/audit", response_model=list[AuditOut])
def audit_log(
    db: DbDep,
    caller: Allowed.audit_read,
    actor: Annotated[str | None, Query(max_length=100)] = None,
    outlet_id: Annotated[str | None, Query(max_length=40)] = None,
    action: Annotated[str | None, Query(max_length=100)] = None,
    since: Moment | None = None,
    until: Moment | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    before_id: Annotated[
        int | None, Query(ge=1, le=MAX_ROW_ID, description="page: entries older than this id")
    ] = None,
):
    """Entries newest first (a scoped caller sees their outlets' only)."""
    filters = Filters(**{k: v for k, v in locals().items() if k in Filters.model_fields})
    return _query(db, caller, filters)


@router.get(
    "/audit.csv",
    response_class=Response,
    responses={200: {"content": {"text/csv": {"schema": {"type": "string"}}}}},
)
def audit_csv(
    db: DbDep,
    caller: Allowed.audit_read,
    actor: Annotated[str | None, Query(max_length=100)] = None,
    outlet_id: Annotated[str | None, Query(max_length=40)] = None,
    action: Annotated[str | None, Query(max_length=100)] = None,
    since: Moment | None = None,
    until: Moment | None = None,
    limit: Annotated[int, Query(ge=1, le=100_000)] = 10_000,
):
    """The same entries as CSV (JSON columns as JSON text)."""
    filters = Filters(actor=actor, outlet_id=outlet_id, action=action, since=since, until=until, limit=limit)
    return Response(audit.to_csv(_query(db, caller, filters)), media_type="text/csv")
