"""Tables of card links (an RFID card joined to a digital wallet) and of outlets' counters.

Like hub.loyalty_tables, this module is imported by hub.db before the rest of it exists, so it
imports nothing that imports hub.db.
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy import Column
from sqlmodel import Field, SQLModel

from hub.models import UTCDateTime, utcnow


def _created():
    return Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))


class CardLink(SQLModel, table=True):
    """An RFID card linked to a digital card's wallet. The RFID card's own wallet keeps its
    history (and is read for the card's history); its balance and points moved at `linked_at`."""

    __tablename__ = "card_links"
    card_uid: str = Field(foreign_key="cards.uid", primary_key=True)
    wallet_uid: str = Field(foreign_key="cards.uid", index=True)
    previous_account_id: int | None = Field(default=None, foreign_key="accounts.id")  # None: never had one
    moved: int = 0  # balance moved (negative: a debt moved)
    points_moved: int = 0
    linked_at: dt.datetime = _created()


class Counter(SQLModel, table=True):
    """A counter of an outlet: a cash register, a payment terminal or a kiosk, by which a till
    identifies itself and names where a basket was paid."""

    __tablename__ = "counters"
    id: str = Field(primary_key=True)
    outlet_id: str = Field(foreign_key="outlets.id", index=True)
    name: str = ""
    kind: str = "till"  # till, terminal, kiosk
    active: bool = True
    created_at: dt.datetime = _created()
