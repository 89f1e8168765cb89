"""The schema's history: Alembic migrations own it (hub/migrations/versions, oldest first; env.py
is Alembic's environment, configured here in code, no alembic.ini).

`open_database(url)` is how the hub and every tool opens a database: an engine, its schema brought
to the newest migration in place. `upgrade(engine)` knows three kinds of database:

- empty (none of the baseline's tables): every migration runs;
- under Alembic already: the migrations it lacks run; none when it is current, and then opening
  costs one cheap query and no lock;
- made by the release before migrations (`metadata.create_all`, no alembic_version table): it
  holds the baseline's tables, so it is stamped at the baseline (that release's schema) and
  upgraded from there. One holding some of the baseline's tables but not all is refused
  (SchemaError): not a tapgift database, or a damaged one.

Two hub processes starting at once on one database do not both migrate: the upgrade runs in one
transaction that holds PostgreSQL's advisory lock (on SQLite, BEGIN IMMEDIATE: one writer) and
looks at the database again once it has it. A migration that fails changes nothing. On SQLite,
migrations run with foreign keys off (SQLite's way to alter a table drops it while others refer
to it) and every foreign key is checked before the commit.
"""

from __future__ import annotations

import functools
import logging
import os
import re
import shutil
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, MetaData, inspect, text

from hub.core.engine import make_engine, reader

log = logging.getLogger("tapgift.migrations")

HERE = Path(__file__).resolve().parent
VERSIONS = HERE / "versions"
BASELINE = "0001_baseline"
# pg_advisory_xact_lock's key for "migrating the hub's schema": b"tapgift" and 1.
_LOCK_KEY = 0x7461706769667401


class SchemaError(RuntimeError):
    """The database's schema is not one this hub can bring up to date."""


def config(
    connection: Connection | None = None,
    *,
    version_locations: Sequence[Path] = (),
    metadata: MetaData | None = None,
) -> Config:
    """Alembic's configuration for the hub: this package is the script location. With a
    connection, env.py runs the migrations on it, in its transaction. version_locations adds
    folders of migrations after hub/migrations/versions (tests); metadata replaces
    hub.tables.metadata as what autogenerate compares with (tests)."""
    cfg = Config()

    def option(name: str, value: str) -> None:
        cfg.set_main_option(name, value.replace("%", "%%"))  # ConfigParser interpolates %

    option("script_location", str(HERE))
    option("path_separator", "os")
    option("version_locations", os.pathsep.join(str(p) for p in (VERSIONS, *version_locations)))
    cfg.set_main_option("file_template", "%%(rev)s")  # the id says it all: 0002_vouchers.py
    cfg.attributes["connection"] = connection
    if metadata is not None:
        cfg.attributes["metadata"] = metadata
    return cfg


def _script(version_locations: Sequence[Path] = ()) -> ScriptDirectory:
    if not version_locations:
        return _installed_script()
    return ScriptDirectory.from_config(config(version_locations=version_locations))


@functools.cache
def _installed_script() -> ScriptDirectory:
    return ScriptDirectory.from_config(config())


def head(version_locations: Sequence[Path] = ()) -> str:
    """The newest revision. The project keeps one line of migrations, one head."""
    heads = _script(version_locations).get_heads()
    if len(heads) != 1:
        raise SchemaError(
            f"the migrations have {len(heads)} heads ({', '.join(sorted(heads))}): two were made "
            "from the same parent (two branches merged). Make the newer one follow the other: "
            "its down_revision the other's id, its number the next"
        )
    return heads[0]


def current(conn: Connection) -> str | None:
    """The revision the database is at; None when it has no alembic_version table (an empty
    database, or one made by the release before migrations)."""
    return MigrationContext.configure(conn).get_current_revision()


def baseline_tables() -> frozenset[str]:
    """The tables the baseline makes: the schema of the release before migrations."""
    return _installed_script().get_revision(BASELINE).module.TABLES


def upgrade(engine: Engine, *, version_locations: Sequence[Path] = ()) -> None:
    """Bring the database's schema to the newest revision, in place, its data kept."""
    newest = head(version_locations)
    with reader(engine).connect() as conn:  # the usual case: current, and nothing to lock
        if current(conn) == newest:
            return
    with engine.connect() as conn:
        sqlite = conn.dialect.name == "sqlite"
        if sqlite:
            # SQLite's way to change a table (what Alembic's batch mode does): make it anew,
            # copy the rows, drop the old one, rename. With foreign keys enforced, dropping a
            # table others refer to fails, so they are off while migrating (only possible
            # outside a transaction) and checked as a whole before the commit.
            raw = conn.connection.dbapi_connection
            raw.execute("PRAGMA foreign_keys = OFF")
        try:
            with conn.begin():
                if not sqlite:
                    conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})
                if _upgrade(conn, newest, version_locations) and sqlite:
                    _check_foreign_keys(conn)
        finally:
            if sqlite and not conn.invalidated:
                raw.execute("PRAGMA foreign_keys = ON")


def _upgrade(conn: Connection, newest: str, version_locations: Sequence[Path]) -> bool:
    """Migrate, under the lock; False when there was nothing to do."""
    cfg = config(conn, version_locations=version_locations)
    at = current(conn)  # again: another process may have migrated while we waited for the lock
    if at == newest:
        return False
    if at is None:
        expected = baseline_tables()
        present = expected & set(inspect(conn).get_table_names())
        if present == expected:
            log.info("the database was made before migrations: stamped at %s", BASELINE)
            command.stamp(cfg, BASELINE)
            at = BASELINE
        elif present:
            raise SchemaError(
                f"the database holds {len(present)} of the {len(expected)} tables of the hub's "
                f"baseline ({_some(present)}) and no migration history (alembic_version); it "
                f"lacks {_some(expected - present)}. It is not a tapgift database, or a damaged "
                "one: refusing to touch it"
            )
    elif at not in {s.revision for s in _script(version_locations).walk_revisions()}:
        raise SchemaError(
            f"the database is at revision {at}, which this hub does not know (newest: {newest}): "
            "a newer release has upgraded it. Run that release, or a newer one"
        )
    log.info("upgrading the database's schema from %s to %s", at or "nothing", newest)
    command.upgrade(cfg, "head")
    return True


def _check_foreign_keys(conn: Connection) -> None:
    broken = conn.exec_driver_sql("PRAGMA foreign_key_check").all()
    if broken:
        table, rowid, parent, _ = broken[0]
        raise SchemaError(
            f"the migration broke {len(broken)} foreign key(s), e.g. row {rowid} "
            f"of {table} refers to a missing row of {parent}: rolled back"
        )


def _some(names: set[str], at_most: int = 6) -> str:
    names = sorted(names)
    more = f" and {len(names) - at_most} more" if len(names) > at_most else ""
    return ", ".join(names[:at_most]) + more


def open_database(url: str) -> Engine:
    """An engine on the database at url, its schema upgraded to the newest revision."""
    engine = make_engine(url)
    try:
        upgrade(engine)
    except BaseException:
        engine.dispose()
        raise
    return engine


def _slug(message: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", message.lower()).strip("_")


def _tidy_with_ruff(cfg: Config) -> None:
    """The project's lint and format for the new file, where ruff is installed (a contributor's
    environment: the test extras)."""
    where = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    ruff = shutil.which("ruff", path=where)
    if ruff is None:
        return
    cfg.set_section_option("post_write_hooks", "hooks", "ruff_fix, ruff_format")
    for hook, options in (("ruff_fix", "check --fix --quiet"), ("ruff_format", "format --quiet")):
        cfg.set_section_option("post_write_hooks", f"{hook}.type", "exec")
        cfg.set_section_option("post_write_hooks", f"{hook}.executable", ruff.replace("%", "%%"))
        cfg.set_section_option("post_write_hooks", f"{hook}.options", f"{options} REVISION_SCRIPT_FILENAME")


class NewRevision(NamedTuple):
    path: Path
    changes: bool  # False: autogenerate found no difference, the migration is empty


def revision(message: str, url: str | None = None) -> NewRevision:
    """A new migration in hub/migrations/versions: what the tables (hub.tables.metadata) define
    and a database at the newest revision lacks, found by Alembic's autogenerate. Without a url,
    a fresh SQLite database is made for the comparison; one given must be up to date. Returns
    the file, to be read over (autogenerate misses renames and some constraint changes)."""
    if not _slug(message):
        raise SchemaError("say what the migration does, in a few words (-m)")
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(url or str(Path(tmp) / "head.db"))
        try:
            if url is None:
                upgrade(engine)
            with engine.begin() as conn:
                at, newest = current(conn), head()
                if at != newest:
                    raise SchemaError(
                        f"the database is at {at or 'no revision'}, not at the "
                        f"newest ({newest}): run `tapgift db upgrade` on it first"
                    )
                number = sum(1 for _ in _installed_script().walk_revisions()) + 1
                rev_id = f"{number:04d}_{_slug(message)}"[:32].rstrip("_")
                cfg = config(conn)
                _tidy_with_ruff(cfg)
                script = command.revision(cfg, message=message, autogenerate=True, rev_id=rev_id)
        finally:
            engine.dispose()
    _installed_script.cache_clear()
    return NewRevision(Path(script.path), cfg.attributes.get("changes", False))
