"""Field types and models the REST routers share, so that a card uid, an amount or an id
is checked the same way on every route."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated, Any

from fastapi import Header, Path
from pydantic import AfterValidator, AwareDatetime, BaseModel, BeforeValidator, Field
from pydantic_core import PydanticCustomError

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


class HistoryItem(BaseModel):
    """One transfer of a card's wallet, signed as the card sees it."""

    id: str
    at: datetime
    code: str
    reason: str
    kind: str
    pending_id: str | None
    amount: int


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
