"""The schema's history: Alembic migrations own it. `open_database(url)` is how the hub (and every
tool) opens a database: made, or brought up to date, in place."""
from __future__ import annotations

from sqlalchemy import Engine

from hub import tables
from hub.core.engine import make_engine


def upgrade(engine: Engine) -> None:
    tables.metadata.create_all(engine)


def open_database(url: str) -> Engine:
    """An engine on the database at url, its schema upgraded to the newest revision."""
    engine = make_engine(url)
    upgrade(engine)
    return engine
