"""The SUN keys of NTAG 424 DNA cards (/api/v1/cards/{uid}/sun) that taps are checked against
(hub.taps.sun): a clone cannot make a fresh SUN message."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter
from pydantic import BaseModel, Field

from hub.api.auth import Allowed
from hub.api.deps import DbDep
from hub.taps import sun

# Both tags, as when these routes sat in the devices router: generated clients group by them.
router = APIRouter(tags=["devices", "cards"])

Uid = Annotated[str, Field(pattern=r"^[0-9A-Fa-f]{8,20}$")]
AesKey = Annotated[str, Field(pattern=r"^[0-9A-Fa-f]{32}$", description="AES-128 key, 32 hex digits")]


class SunIn(BaseModel):
    """The card's SDM keys (write-only: never read back)."""

    file_read_key: AesKey = Field(description="SDMFileRead key: keys the SUN message's MAC")
    meta_read_key: AesKey | None = Field(
        None,
        description="SDMMetaRead key: decrypts the PICC data; omit for a card "
        "that mirrors UID and counter in plain",
    )
    last_counter: int | None = Field(
        None,
        ge=0,
        le=0xFFFFFF,
        strict=True,
        description="read counter already used up (a message must be above it); omitted: "
        "a new registration accepts any, a re-keyed card keeps its last",
    )


class SunOut(BaseModel):
    uid: str
    encrypted_picc_data: bool = Field(description="true when a meta-read key is registered")
    last_counter: int | None = Field(description="the last read counter accepted")
    registered_at: datetime
    last_seen_at: datetime | None


@router.put("/cards/{uid}/sun", response_model=SunOut)
def register_sun(_caller: Allowed.cards_write, uid: Uid, keys: SunIn, db: DbDep):
    """Register an NTAG 424 DNA card's SDM keys: from now on a tap with it needs a SUN
    message that verifies and is fresher than the last one accepted (clones are
    refused with bad_sun). Registering again re-keys the card."""
    return db.write(sun.register, uid, keys.file_read_key, keys.meta_read_key, keys.last_counter)


@router.get("/cards/{uid}/sun", response_model=SunOut)
def sun_registration(_caller: Allowed.cards_read, uid: Uid, db: DbDep):
    return db.read(sun.view, uid)


@router.delete("/cards/{uid}/sun", status_code=204)
def unregister_sun(_caller: Allowed.cards_write, uid: Uid, db: DbDep) -> None:
    """The card works on its UID alone again."""
    db.write(sun.unregister, uid)
