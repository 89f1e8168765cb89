"""Column types and field helpers every table module uses. Money and points are integers in
minor units; times are aware UTC."""

from __future__ import annotations

from datetime import UTC

from sqlalchemy import JSON, BigInteger, Column, DateTime, TypeDecorator
from sqlmodel import Field

from hub.core.clock import utcnow


class UTCDateTime(TypeDecorator):
    """Aware UTC datetimes on every database: SQLite keeps no zone, so times
    are stored as UTC and read back with it."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is not None and value.tzinfo is not None:
            value = value.astimezone(UTC)
        return value

    def process_result_value(self, value, dialect):
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value


def money(default: int = 0, **kw):
    """An amount in minor units (or whole points): a 64-bit integer."""
    return Field(default=default, sa_column=Column(BigInteger, nullable=False, **kw))


def created():
    """When the row was made."""
    return Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))


def moment(nullable: bool = True, index: bool = False):
    """An optional point in time."""
    return Field(default=None, sa_column=Column(UTCDateTime(), nullable=nullable, index=index))


def json_list():
    """A JSON list, given in full on every insert."""
    return Field(sa_column=Column(JSON, nullable=False))
