"""Alembic's environment for the hub, configured in code (hub/migrations/__init__.py builds the
Config; there is no alembic.ini). Migrations run on a connection of the hub's own engine
(hub.core.engine.make_engine), inside the one transaction hub.migrations.upgrade opened: on SQLite
a BEGIN IMMEDIATE (one writer at a time), on PostgreSQL one holding the migration lock. A
migration that fails leaves the database as it was, on both (SQLite's DDL is transactional too:
the hub's engine turns the DBAPI's own transaction handling off and begins them itself)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import TypeDecorator
from sqlmodel.sql.sqltypes import AutoString

from hub import tables
from hub.tables.types import UTCDateTime

config = context.config


def render_item(type_, obj, autogen_context):
    """Migration scripts say what the database holds with plain SQLAlchemy types, so that they
    run as long as the project lives, whatever becomes of the hub's own column types."""
    if type_ != "type" or not isinstance(obj, TypeDecorator):
        return False
    if type(obj).__module__.startswith("sqlalchemy."):  # PickleType, Interval...: its own
        return False
    if isinstance(obj, AutoString):  # sqlmodel's str: VARCHAR, a length if one was given
        return f"sa.String(length={obj.length})" if obj.length else "sa.String()"
    if isinstance(obj, UTCDateTime):  # the same column; the UTC handling is Python-side only
        return "sa.DateTime(timezone=True)"
    raise TypeError(
        f"hub/migrations/env.py: say how a {type(obj).__name__} column renders in a "
        "migration script (as the plain SQLAlchemy type it stores)"
    )


def note_changes(_context, _revision, directives) -> None:
    """Tell `revision` whether autogenerate found anything (else the migration is empty)."""
    config.attributes["changes"] = not directives[0].upgrade_ops.is_empty()


def configure(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=config.attributes.get("metadata", tables.metadata),
        compare_type=True,
        # Every migration runs on SQLite and PostgreSQL: ALTERs are written as batch operations
        # (SQLite: the table made anew and the rows copied; PostgreSQL: plain ALTER TABLE).
        render_as_batch=True,
        transactional_ddl=True,
        render_item=render_item,
        process_revision_directives=note_changes,
    )


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is None:
        raise SystemExit("tapgift's migrations run through hub.migrations: `tapgift db upgrade`")
    configure(connection)
    with context.begin_transaction():  # upgrade()'s own: nothing begins here
        context.run_migrations()


if context.is_offline_mode():
    raise SystemExit("tapgift's migrations run on a database, not as an SQL script (--sql)")
run_migrations_online()
