"""Field types and models the REST routers share, so that a card uid, an amount or an id
is checked the same way on every route."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated, Any, Literal

from fastapi import Header, Path, Query
from pydantic import AfterValidator, AwareDatetime, BaseModel, BeforeValidator, Field
from pydantic_core import PydanticCustomError

from hub.wallets import history
from hub.wallets.cards import canonical_uid

MAX_AMOUNT = 100_000_000  # one million in minor units: a typo guard, not a business limit
MAX_POINTS = 100_000_000  # points, likewise
MAX_DAYS = 36_600  # a validity or an expiry in days: a century (dates stay far from year 9999)

Slug = Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]{1,40}$")]
# A card's uid in any case, read as the hub keeps it (hub.wallets.cards.canonical_uid), so that a
# route gets the same card for "04a1b2c3" as for "04A1B2C3", as a device's tap does.
CardUid = Annotated[
    str,
    Field(
        pattern=r"^[0-9A-Za-z_:.-]{4,64}$",
        description="a card's uid (protocol.messages.check_card), in either case",
    ),
    AfterValidator(canonical_uid),
]
Minor = Annotated[int, Field(ge=0, le=MAX_AMOUNT, strict=True)]
# An Idempotency-Key header: visible ASCII but "|", which escapes "/" and ":" in the keys the
# hub stores, so that no key a caller sends is one the hub derives (hub.ledger.requests).
Key = Annotated[
    str,
    Header(
        pattern=r"^[!-{}~]{1,100}$",
        description="required on every money write, once per request: a retry with the same key and request books nothing new; "
        "the same key with another request is a 409. 1-100 visible ASCII characters but '|'.",
    ),
]
# A row id in a path: what the tables' INTEGER keys hold on every database (32 bits on
# PostgreSQL); a larger number answered 500 (an OverflowError in the driver).
MAX_ROW_ID = 2**31 - 1
RowId = Annotated[int, Path(ge=1, le=MAX_ROW_ID)]
ItemId = Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,32}$")]  # a gift item (hub.gifts)


HistoryKind = Literal[history.KINDS]  # type: ignore[valid-type]


# The history's filters and pages (GET /cards/{uid}/history).
HistoryKinds = Annotated[
    list[HistoryKind] | None, Query(description="only entries of these kinds (repeat it for several)")
]
HistoryCursor = Annotated[
    str | None,
    Query(
        pattern=r"^[A-Za-z0-9_-]{1,200}$",
        description="the cursor of the last entry read: the entries after it (the next page)",
    ),
]


class HistoryItem(BaseModel):
    """One entry of a card's history (hub.wallets.history): a tap, a top-up, a sale, points or
    gifts received or taken. Figures are signed as the card sees them; null: not this entry's."""

    id: str = Field(description="the transfer's id; a tap's: its hold's; an unpaid offline vend's: offline/…")
    at: datetime = Field(description="when it was booked; a tap's: when the hub answered it")
    kind: HistoryKind = Field(description="what happened (the `kind` filter takes these)")
    code: str = Field(description="the booking code it came from (a tap's: tap)")
    reason: str
    amount: int = Field(
        description="money in minor units, + into the card's wallet, - out of it; a tap's: what was "
        "posted (0 while pending). Over a whole history the amounts add up to the balance."
    )
    points: int | None = Field(None, description="points, + earned or returned, - spent, expired or reset")
    gift_item: str | None = None
    gift_units: int | None = Field(None, description="units of gift_item, + received, - redeemed or reset")
    status: Literal["pending", "posted", "voided", "expired"] | None = Field(
        None, description="a tap's hold: waiting for its report, posted, voided (nothing delivered), expired"
    )
    held: int | None = Field(None, description="a tap: the amount held at the tap (positive)")
    units: int | None = Field(None, description="a tap or offline vend: the units granted or vended")
    unit_price: int | None = Field(None, description="a tap: the price per unit after the card's discount")
    discount_percent: str | None = Field(None, description="a tap at a loyalty machine: the card's discount")
    resolved_at: datetime | None = Field(
        None, description="a tap: when its hold was posted, voided or expired"
    )
    card_uid: str | None = Field(None, description="a tap or offline vend: the card presented")
    device_id: str | None = None
    request_id: str | None = Field(None, description="the device's request id of a tap or offline vend")
    outlet_id: str | None = None
    counter_id: str | None = None
    article_id: str | None = None
    basket_id: str | None = None
    rule_id: int | None = Field(None, description="the bonus or chain rule that granted points or a gift")
    transfer_id: str | None = Field(None, description="the ledger transfer (a tap's: its pending transfer)")
    pending_id: str | None = Field(None, description="the hold a posting or voiding transfer resolves")
    cursor: str = Field(description="this entry's place: pass it as `before` for the entries after it")


_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_ISO_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?([Zz]|[+-]\d{2}:\d{2})")


def _iso(pattern: re.Pattern, what: str):
    def check(value: Any) -> Any:
        if isinstance(value, str) and pattern.fullmatch(value):
            return value
        if not isinstance(value, str) and isinstance(value, date):
            return value  # from Python: already a date or datetime
        raise PydanticCustomError("iso_format", "{what} in ISO 8601", {"what": what})

    return BeforeValidator(check)


# A day in a body ("2025-08-01"): a number is not a day (pydantic took 0 for 1970-01-01).
Day = Annotated[date, _iso(_ISO_DATE, "a date YYYY-MM-DD")]
# A moment in a query or body: ISO 8601 with its zone ("2025-08-01T00:00:00Z"); a number is not
# one (pydantic took 0.5 for half a second after 1970).
Moment = Annotated[AwareDatetime, _iso(_ISO_DATETIME, "a date-time YYYY-MM-DDTHH:MM[:SS] with a zone")]
# A yes/no in a body: true or false, not 0 or 1 or "yes".
Flag = Annotated[bool, Field(strict=True)]
