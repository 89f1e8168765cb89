"""The coalition's money settlement by period (seed 004): the outlet whose cash desk took or paid
back a card's cash, and the closed periods with their frozen statements and the transfers in them."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, Column, ForeignKey, Integer, String
from sqlmodel import Field, SQLModel

from hub.tables.types import UTCDateTime, created


class CashOutlet(SQLModel, table=True):
    """The outlet (and till) that took the cash of a top-up or a debit card's settlement, or paid
    back a refund: written in the booking's own transaction. A cash-desk transfer without one is
    the settlement node's (the coalition's own cash desk)."""

    __tablename__ = "settlement_cash_outlets"
    transfer_id: str = Field(sa_column=Column(String, ForeignKey("transfers.id"), primary_key=True))
    outlet_id: str = Field(foreign_key="outlets.id", index=True)
    counter_id: str | None = None


class SettlementPeriod(SQLModel, table=True):
    """A closed period of one money ledger: [starts_at, ends_at), its statement as it was at the
    close (frozen). Closed periods of a ledger never overlap."""

    __tablename__ = "settlement_periods"
    id: int | None = Field(default=None, primary_key=True)
    ledger: str = Field(index=True)
    starts_at: dt.datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    ends_at: dt.datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    closed_by: str
    closed_at: dt.datetime = created()
    statement: dict = Field(sa_column=Column(JSON, nullable=False))


class PeriodTransfer(SQLModel, table=True):
    """A transfer settled in a closed period, with the time it counted at there (its booking time,
    or for a correction of an earlier closed period the time it was moved to)."""

    __tablename__ = "settlement_period_transfers"
    transfer_id: str = Field(sa_column=Column(String, ForeignKey("transfers.id"), primary_key=True))
    period_id: int = Field(
        sa_column=Column(Integer, ForeignKey("settlement_periods.id"), index=True, nullable=False)
    )
    effective_at: dt.datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
