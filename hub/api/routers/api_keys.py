"""API keys (/api/v1/api-keys) for tills, web shops, kiosks and the central office's systems:
made by an admin and shown once, scoped to an outlet, a site or everything and to a set of
permissions; a revoked key is refused from the next request on."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import AwareDatetime, BaseModel, Field

from hub.access import keys
from hub.api.auth import Allowed
from hub.api.deps import DbDep
from hub.api.fields import Slug
from hub.core.clock import utcnow

router = APIRouter(tags=["access"])


class KeyIn(BaseModel):
    name: str = Field(max_length=100, description="what uses it, e.g. 'till 3, bar Lagune'")
    role: str = Field(description="admin, manager, cashier, kiosk or auditor")
    permissions: list[str] | None = Field(
        None, max_length=50, description="fewer than the role's; default all"
    )
    site_id: Slug | None = None
    outlet_id: Slug | None = None
    expires_at: AwareDatetime | None = None
    rate_per_minute: int = Field(600, ge=1, le=100_000, strict=True)


class KeyOut(BaseModel):
    id: str
    name: str
    role: str
    permissions: list[str]
    site_id: str | None
    outlet_id: str | None
    rate_per_minute: int
    expires_at: AwareDatetime | None
    revoked_at: AwareDatetime | None
    created_by: str
    created_at: AwareDatetime


class KeyCreated(KeyOut):
    key: str = Field(description="`<id>.<secret>` for the X-API-Key header; shown only here")


@router.get("/api-keys", response_model=list[KeyOut])
def list_keys(db: DbDep, _caller: Allowed.keys_manage):
    return db.read(keys.list_keys)


@router.post("/api-keys", response_model=KeyCreated, status_code=201)
def create_key(body: KeyIn, db: DbDep, caller: Allowed.keys_manage):
    return db.write(
        lambda conn: keys.create_key(conn, caller, now=utcnow(), **body.model_dump()),
    )


@router.post("/api-keys/{key_id}/revoke", response_model=KeyOut)
def revoke_key(key_id: str, db: DbDep, _caller: Allowed.keys_manage):
    """Revoke a key: it is refused from the next request on, on every hub."""
    return db.write(keys.revoke_key, key_id, utcnow(), before=lambda conn: keys.key_view(conn, key_id))
