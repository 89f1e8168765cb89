"""Cards (the credential: an RFID card or a digital card), their links to a digital wallet
and the SUN keys of NTAG 424 DNA cards."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Column
from sqlmodel import Field, SQLModel

from hub.core.clock import utcnow
from hub.tables.types import UTCDateTime, created


class Card(SQLModel, table=True):
    """A credential: an RFID card/wristband or a digital card (a QR code). account_id is
    the wallet a tap with it debits; a linked RFID card shares its digital card's wallet."""

    __tablename__ = "cards"
    uid: str = Field(primary_key=True)
    account_id: int = Field(foreign_key="accounts.id", index=True)
    status: str = "active"  # active, blocked
    label: str = ""
    medium: str = "rfid"  # rfid, digital
    kind: str = "value"  # value (stored balance), debit (paid later), employee
    holder_name: str = ""  # empty: an anonymous card
    holder_email: str = ""
    linked_to: str | None = Field(default=None, index=True)  # the digital card whose wallet it uses
    created_at: datetime = created()


class CardLink(SQLModel, table=True):
    """An RFID card linked to a digital card's wallet. The RFID card's own wallet keeps its
    history (and is read for the card's history); its balance and points moved at `linked_at`."""

    __tablename__ = "card_links"
    card_uid: str = Field(foreign_key="cards.uid", primary_key=True)
    wallet_uid: str = Field(foreign_key="cards.uid", index=True)
    previous_account_id: int | None = Field(default=None, foreign_key="accounts.id")  # None: never had one
    moved: int = 0  # balance moved (negative: a debt moved)
    points_moved: int = 0
    linked_at: datetime = created()


class CardSun(SQLModel, table=True):
    """The SDM keys of a card registered for SUN and the last read counter accepted."""

    __tablename__ = "card_sun"
    uid: str = Field(primary_key=True, foreign_key="cards.uid")
    meta_key_hex: str | None = None  # None: the card mirrors UID and counter in plain
    file_key_hex: str
    last_counter: int | None = Field(default=None, sa_column=Column(BigInteger))
    registered_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
    last_seen_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
