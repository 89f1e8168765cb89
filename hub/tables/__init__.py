"""Every table of the hub, one module per domain. Importing this package registers them all on
`metadata`, which hub/migrations compares with the migrations' schema.

Table modules import only SQLModel, SQLAlchemy and hub.core: the domain builds on them, never
the reverse."""

from __future__ import annotations

from sqlmodel import SQLModel

from hub.tables import (  # noqa: F401  (registers the tables)
    access,
    cards,
    catalogue,
    devices,
    firmware,
    gifts,
    ledger,
    loyalty,
    outlets,
    reports,
    sales,
    settlement,
    taps,
    vouchers,
    wallets,
)

metadata = SQLModel.metadata
