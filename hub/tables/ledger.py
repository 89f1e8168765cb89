"""The ledger's tables: accounts and the immutable transfers between them."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from hub.tables.types import created, money


class Account(SQLModel, table=True):
    """One account on one ledger (asset). A wallet never goes below minus its credit
    limit (0 but for a debit card's wallet, which is paid later)."""

    __tablename__ = "accounts"
    id: int | None = Field(default=None, primary_key=True)
    ledger: str = Field(index=True)
    kind: str  # wallet, machine, cash
    name: str
    allow_negative: bool = False
    credit_limit: int = money()
    debits_posted: int = money()
    credits_posted: int = money()
    debits_pending: int = money()
    credits_pending: int = money()
    created_at: datetime = created()


class Transfer(SQLModel, table=True):
    """An immutable double-entry movement. Corrections are new transfers."""

    __tablename__ = "transfers"
    id: str = Field(primary_key=True)
    idempotency_key: str = Field(unique=True)
    ledger: str
    debit_account_id: int = Field(foreign_key="accounts.id", index=True)
    credit_account_id: int = Field(foreign_key="accounts.id", index=True)
    amount: int = money()
    # posted: final; pending: a hold; post/void: resolves the pending transfer pending_id
    flags: str = "posted"
    pending_id: str | None = Field(default=None, index=True)
    code: str
    reason: str
    created_at: datetime = created()


class RequestKey(SQLModel, table=True):
    """The Idempotency-Key of a REST money write (in its route's namespace, e.g. "topup/K") and
    a fingerprint of the request it first came with: the same key with another request is a
    409, never the first request's answer."""

    __tablename__ = "request_keys"
    key: str = Field(primary_key=True)
    fingerprint: str
    created_at: datetime = created()
