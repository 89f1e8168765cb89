"""Field types and models the REST routers share, so that a card uid, an amount or an id
is checked the same way on every route."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import Header, Path
from pydantic import BaseModel, Field

MAX_AMOUNT = 100_000_000  # one million in minor units: a typo guard, not a business limit

Slug = Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]{1,40}$")]
CardUid = Annotated[
    str, Field(pattern=r"^[0-9A-Za-z_:.-]{4,64}$", description="a card's uid (protocol.messages.check_card)")
]
Minor = Annotated[int, Field(ge=0, le=MAX_AMOUNT, strict=True)]
# An Idempotency-Key header: visible ASCII but "|", which stands for "/" in the keys the hub
# stores, so that no key a caller sends is one the hub derives (hub.ledger.requests).
Key = Annotated[
    str | None,
    Header(
        pattern=r"^[!-{}~]{1,100}$",
        description="once per request: a retry with the same key and request books nothing new; "
        "the same key with another request is a 409. 1-100 visible ASCII characters but '|'.",
    ),
]
# A row id in a path: what the tables' INTEGER keys hold on every database (32 bits on
# PostgreSQL); a larger number answered 500 (an OverflowError in the driver).
MAX_ROW_ID = 2**31 - 1
RowId = Annotated[int, Path(ge=1, le=MAX_ROW_ID)]
ItemId = Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,32}$")]  # a gift item (hub.gifts)


class HistoryItem(BaseModel):
    """One transfer of a card's wallet, signed as the card sees it."""

    id: str
    at: datetime
    code: str
    reason: str
    kind: str
    pending_id: str | None
    amount: int
