"""Alembic migrations own the schema (hub/migrations). On SQLite and PostgreSQL: the migrations and
the table definitions agree; a database made by the release before migrations (tests/data, dumped
from that release's own code) upgrades with its data intact and the hub works on it; upgrading
twice changes nothing; a partial schema, or one a newer release made, is refused; two processes
upgrading at once migrate once; a migration runs in one transaction on the hub's own engine (a
failing one changes nothing; a batch ALTER on SQLite keeps the foreign keys); `tapgift db
upgrade | current | revision`."""

from __future__ import annotations

import ast
import json
import re
import shutil
import sqlite3
import threading
from pathlib import Path

import psycopg
import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Column, ForeignKey, Integer, MetaData, String, Table, event, inspect, null, select
from sqlalchemy import column as sa_column
from sqlalchemy import table as sa_table
from typer.testing import CliRunner

from hub import migrations, tables
from hub.core.engine import make_engine
from hub.ledger import ACCOUNTS, Book, balance_from_log, ledger_totals
from hub.migrations import SchemaError, open_database
from hub.tables.types import UTCDateTime
from hub.wallets import cards as card_service
from hub.wallets.cash_desk import top_up

DATA = Path(__file__).parent / "data"


def dialect(url: str) -> str:
    return "sqlite" if url.startswith("sqlite") else "postgresql"


def differences(engine, metadata: MetaData = tables.metadata) -> list:
    """What Alembic's autogenerate would change to make the database match the metadata."""
    with engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"compare_type": True, "compare_server_default": True, "target_metadata": metadata}
        )
        return compare_metadata(context, metadata)


def revision_of(engine) -> str | None:
    with engine.connect() as conn:
        return migrations.current(conn)


def table_names(engine) -> set[str]:
    with engine.connect() as conn:
        return set(inspect(conn).get_table_names())


def load_previous_release(url: str) -> dict:
    """Restore the dump of a database the release before migrations made; its facts (ids the
    test needs) are in the dump's header."""
    name = dialect(url)
    script = (DATA / f"previous_release.{name}.sql").read_text()
    facts = json.loads(script.splitlines()[1].split("Facts: ", 1)[1])
    if name == "sqlite":
        conn = sqlite3.connect(url.split("///", 1)[1])
        conn.executescript(script)
        conn.close()
    else:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(script)
    return facts


# Tables a later migration renamed: today's name -> the name the release before migrations used.
RENAMED_SINCE_BASELINE = {"device_loyalty": "machine_settings", "device_loyalty_holds": "machine_holds"}
ADDED_SINCE_BASELINE = {
    "request_keys",  # 0003
    "device_request_conflicts",  # 0004
    "operators",  # 0005
    "operator_sessions",
    "api_keys",
    "audit_log",
    "device_refusals",  # 0007
    "vouchers",  # 0008
    "voucher_redemptions",
    "voucher_deliveries",
    "voucher_secrets",
    "voucher_campaigns",  # 0010
    "topup_tier_sites",  # 0011
    "outlet_contacts",  # 0012
    "report_schedules",
    "device_health_hours",
    "settlement_cash_outlets",  # 0013
    "settlement_periods",
    "settlement_period_transfers",
    "firmware_bundles",  # 0014
    "firmware_files",
    "firmware_rollouts",
    "firmware_updates",
    "report_buckets",  # 0015
    "device_status",  # 0016
    "api_key_rates",  # 0018
}
# Columns added to a table of the previous release: read as NULL from its databases.
COLUMNS_ADDED_SINCE_BASELINE = {
    "device_requests": {"fingerprint"},  # 0004
    "device_health": {"heap_alloc_bytes", "reset_cause", "last_traceback"},  # 0009
    "topup_tiers": {"site_id"},  # 0011
    "device_commands": {"sent_at"},  # 0017
}


def every_row(engine, names_of_the_previous_release: bool = False) -> dict[str, list]:
    """Every row of every table, by today's table name (read under the old name from a database
    of the previous release)."""
    with engine.connect() as conn:
        return {t.name: _rows(conn, t, names_of_the_previous_release) for t in tables.metadata.sorted_tables}


def _rows(conn, table, old_names: bool) -> list[tuple]:
    if old_names and table.name in ADDED_SINCE_BASELINE:
        return []  # the previous release had no such table: nothing in it
    name = RENAMED_SINCE_BASELINE.get(table.name, table.name) if old_names else table.name
    added = COLUMNS_ADDED_SINCE_BASELINE.get(table.name, set()) if old_names else set()
    stored = sa_table(name, *(sa_column(c.name) for c in table.columns if c.name not in added))
    order = [stored.c[c.name] for c in table.primary_key.columns]
    columns = [null().label(c.name) if c.name in added else stored.c[c.name] for c in table.columns]
    return [tuple(r) for r in conn.execute(select(*columns).order_by(*order))]


def statements_during(engine, action) -> list[str]:
    seen: list[str] = []

    def note(conn, cursor, statement, *args):
        seen.append(statement.strip().split()[0].upper())

    event.listen(engine, "before_cursor_execute", note)
    try:
        action()
    finally:
        event.remove(engine, "before_cursor_execute", note)
    return seen


# -- (a) the migrations and the table definitions agree -----------------------------------------


def test_the_migrations_make_what_the_tables_define(db_url):
    engine = open_database(db_url)
    try:
        assert revision_of(engine) == migrations.head()
        assert differences(engine) == []
        assert table_names(engine) == set(tables.metadata.tables) | {"alembic_version"}
    finally:
        engine.dispose()


def test_the_baseline_makes_the_tables_it_lists(tmp_path):
    """upgrade() recognises a database of the release before migrations by baseline_tables():
    the list must be what the baseline really makes."""
    engine = make_engine(f"sqlite:///{tmp_path / 'hub.db'}")
    with engine.begin() as conn:
        command.upgrade(migrations.config(conn), migrations.BASELINE)
    assert table_names(engine) == migrations.baseline_tables() | {"alembic_version"}
    engine.dispose()


def test_migration_scripts_import_nothing_of_the_hub():
    """A migration keeps meaning what it meant: it says its types with SQLAlchemy's own."""
    for script in migrations.VERSIONS.glob("*.py"):
        assert imported_modules(script.read_text()) <= {"__future__", "alembic", "sqlalchemy"}, script


def test_every_revision_id_fits_the_version_column_and_its_file_name():
    """Alembic keeps the revision in alembic_version.version_num, VARCHAR(32): a longer id
    upgrades SQLite and fails on PostgreSQL (StringDataRightTruncation)."""
    for script in migrations.VERSIONS.glob("0*.py"):
        revision = re.search(r'^revision = "([^"]+)"', script.read_text(), re.M).group(1)
        assert len(revision) <= 32, (script.name, revision)
        assert script.stem == revision, (script.name, revision)


def imported_modules(source: str) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            found.add(node.module.split(".")[0])
    return found


# -- (b) a database of the release before migrations ----------------------------------------------


def test_a_database_of_the_previous_release_upgrades_with_its_data(db_url):
    facts = load_previous_release(db_url)
    plain = make_engine(db_url)
    assert revision_of(plain) is None and table_names(plain) == migrations.baseline_tables()
    before = every_row(plain, names_of_the_previous_release=True)
    plain.dispose()
    assert sum(map(len, before.values())) > 30  # cards, accounts, transfers, holds, a basket...

    engine = open_database(db_url)
    try:
        assert revision_of(engine) == migrations.head()
        assert every_row(engine) == before
        assert differences(engine) == []
        hub_works_on(engine, facts)
    finally:
        engine.dispose()


def hub_works_on(engine, facts: dict) -> None:
    """Today's hub on yesterday's data: a top-up, a new card (its account takes the next id), a
    transfer booked through the Book, the controller's pending hold reported, a repeated tap
    answered from the stored answer; every ledger still sums to zero."""
    from hub.devices.registry import DeviceDirectory
    from hub.taps.authorize import Authorizer, Incoming
    from protocol import messages, topics

    with engine.begin() as conn:
        assert card_service.card_view(conn, "04A1B2C3D4")["balance"] == 5000 - 250
        top_up(conn, "04A1B2C3D4", 1000, "after-upgrade/1")
        card_service.issue_card(conn, "CHF", "0A0B0C0D")
        top_up(conn, "0A0B0C0D", 300, "after-upgrade/2")
        wallets = {uid: card_service.get_card(conn, uid).account_id for uid in ("0A0B0C0D", "AABBCCDD")}
        book = Book(conn)
        book.transfer(
            wallets["0A0B0C0D"], wallets["AABBCCDD"], 100, "gift", "a friend's beer", "after-upgrade/3"
        )
        book.flush()

    device = DeviceDirectory(engine).get("park", "slide-3")
    authorizer = Authorizer(engine)

    def send(kind, body):
        [reply] = authorizer.process([Incoming(device, kind, body)])
        return messages.decode(topics.REPLY, reply)

    again = send(topics.TAP, {"id": facts["pending_request"], "card": "04A1B2C3D4", "units": 2})
    assert (again["k"], again["hold"]) == ("grant", facts["pending_hold"])
    report = send(topics.REPORT, {"id": "2-1", "hold": facts["pending_hold"], "delivered": 2})
    assert (report["k"], report["posted"]) == ("ack", 500)

    with engine.connect() as conn:
        assert card_service.card_view(conn, "04A1B2C3D4")["balance"] == 5000 - 250 + 1000 - 500
        assert card_service.card_view(conn, "0A0B0C0D")["balance"] == 200
        assert card_service.card_view(conn, "AABBCCDD")["balance"] == 2000 - 1000 + 100
        assert all(s == {"posted": 0, "pending": 0} for s in ledger_totals(conn).values())
        for account_id, posted in conn.execute(
            select(ACCOUNTS.c.id, ACCOUNTS.c.credits_posted - ACCOUNTS.c.debits_posted)
        ):
            assert balance_from_log(conn, account_id) == posted


# -- (c) upgrading twice is a no-op -----------------------------------------------------------------


def test_upgrading_an_up_to_date_database_changes_nothing(db_url):
    open_database(db_url).dispose()
    engine = make_engine(db_url)
    try:
        schema = differences(engine)
        seen = statements_during(engine, lambda: migrations.upgrade(engine))
        assert set(seen) <= {"SELECT", "BEGIN", "PRAGMA"}, seen
        assert "BEGIN IMMEDIATE" not in seen  # no write lock taken either (SQLite)
        assert differences(engine) == schema == []
        with engine.connect() as conn:
            assert conn.exec_driver_sql("SELECT count(*) FROM alembic_version").scalar() == 1
    finally:
        engine.dispose()


def test_two_processes_upgrading_at_once_migrate_once(db_url):
    """Two hub processes started together on one empty database: one migrates, the other waits
    for it (PostgreSQL's advisory lock; SQLite's BEGIN IMMEDIATE) and then finds nothing to do."""
    engines = [make_engine(db_url) for _ in range(2)]
    start, errors = threading.Barrier(2), []

    def run(engine):
        start.wait()
        try:
            migrations.upgrade(engine)
        except Exception as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(e,)) for e in engines]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    try:
        assert errors == []
        assert revision_of(engines[0]) == migrations.head()
        assert differences(engines[0]) == []
    finally:
        for e in engines:
            e.dispose()


# -- (d) what upgrade refuses -----------------------------------------------------------------------


def test_a_partial_schema_is_refused(db_url):
    engine = make_engine(db_url)
    try:
        part = [tables.metadata.tables[name] for name in ("accounts", "transfers", "cards")]
        tables.metadata.create_all(engine, tables=part)
        with pytest.raises(
            SchemaError,
            match=r"holds 3 of the 43 tables .*accounts, cards, "
            r"transfers.* not a tapgift database",
        ):
            migrations.upgrade(engine)
        assert table_names(engine) == {"accounts", "transfers", "cards"}  # untouched
    finally:
        engine.dispose()


def test_an_empty_database_with_other_tables_gets_the_hub_beside_them(db_url):
    engine = make_engine(db_url)
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql("CREATE TABLE their_notes (id INTEGER PRIMARY KEY)")
        migrations.upgrade(engine)
        assert revision_of(engine) == migrations.head()
        assert "their_notes" in table_names(engine)
    finally:
        engine.dispose()


def test_a_database_a_newer_release_upgraded_is_refused(db_url):
    engine = open_database(db_url)
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql("UPDATE alembic_version SET version_num = '0099_from_the_future'")
        with pytest.raises(SchemaError, match="0099_from_the_future, which this hub does not know"):
            migrations.upgrade(engine)
    finally:
        engine.dispose()


# -- migrations on the hub's own engine: one transaction; batch ALTERs on SQLite ------------------

FAILING = """
from alembic import op
import sqlalchemy as sa

revision = "0002_fails"
down_revision = "0001_baseline"
branch_labels = depends_on = None


def upgrade():
    op.create_table("half_done", sa.Column("id", sa.Integer(), primary_key=True))
    op.execute("UPDATE accounts SET name = 'changed'")
    op.execute("SELECT * FROM no_such_table")


def downgrade():
    pass
"""

ORPHANS = """
from alembic import op

revision = "0002_orphans"
down_revision = "0001_baseline"
branch_labels = depends_on = None


def upgrade():
    op.execute("DELETE FROM accounts WHERE id IN (SELECT account_id FROM devices)")


def downgrade():
    pass
"""

BATCH = """
from alembic import op
import sqlalchemy as sa

revision = "0002_accounts_note"
down_revision = "0001_baseline"
branch_labels = depends_on = None


def upgrade():
    # SQLite cannot ALTER a column's nullability: in batch mode a new accounts table is made,
    # the rows copied and the old one dropped while cards, transfers, devices... refer to it.
    # PostgreSQL gets two ALTER TABLEs.
    with op.batch_alter_table("accounts") as batch:
        batch.add_column(sa.Column("note", sa.String(), nullable=True))
        batch.alter_column("name", existing_type=sa.String(), nullable=True)


def downgrade():
    with op.batch_alter_table("accounts") as batch:
        batch.alter_column("name", existing_type=sa.String(), nullable=False)
        batch.drop_column("note")
"""


def after_head(text: str) -> str:
    """A test migration's script, made to follow the newest shipped migration."""
    return text.replace('down_revision = "0001_baseline"', f"down_revision = {migrations.head()!r}")


def later_migration(tmp_path, text: str) -> Path:
    folder = tmp_path / "versions"
    folder.mkdir()
    (folder / "0002.py").write_text(after_head(text))
    return folder


def test_two_migrations_from_one_parent_are_refused_with_what_to_do(tmp_path):
    """Two branches each added a migration after 0001: the second to merge must follow the
    first."""
    folder = later_migration(tmp_path, ORPHANS)
    (folder / "0002b.py").write_text(after_head(FAILING))
    with pytest.raises(SchemaError, match=r"2 heads \(0002_fails, 0002_orphans\).*down_revision"):
        migrations.head([folder])


def test_a_failing_migration_changes_nothing(db_url, tmp_path):
    load_previous_release(db_url)
    open_database(db_url).dispose()
    engine = make_engine(db_url)
    before = every_row(engine)
    extra = [later_migration(tmp_path, FAILING)]
    try:
        with pytest.raises(Exception, match="no_such_table"):
            migrations.upgrade(engine, version_locations=extra)
        assert revision_of(engine) == migrations.head()
        assert "half_done" not in table_names(engine)
        assert every_row(engine) == before
    finally:
        engine.dispose()


def test_a_migration_that_breaks_a_foreign_key_is_rolled_back(db_url, tmp_path):
    """SQLite migrates with foreign keys off (see the next test): they are checked before the
    commit instead."""
    load_previous_release(db_url)
    engine = make_engine(db_url)
    extra = [later_migration(tmp_path, ORPHANS)]
    try:
        with pytest.raises(Exception, match="foreign key"):
            migrations.upgrade(engine, version_locations=extra)
        assert revision_of(engine) is None  # not even stamped
        with engine.connect() as conn:
            assert conn.exec_driver_sql("SELECT count(*) FROM accounts").scalar() == 8
            if dialect(db_url) == "sqlite":
                assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    finally:
        engine.dispose()


def test_a_batch_alter_of_a_referenced_table_keeps_data_and_foreign_keys(db_url, tmp_path):
    facts = load_previous_release(db_url)
    engine = make_engine(db_url)
    extra = [later_migration(tmp_path, BATCH)]
    try:
        migrations.upgrade(engine, version_locations=extra)  # stamped, then 0002 on top
        assert revision_of(engine) == "0002_accounts_note"
        with engine.connect() as conn:
            columns = {c["name"]: c for c in inspect(conn).get_columns("accounts")}
            assert "note" in columns and columns["name"]["nullable"]
            if dialect(db_url) == "sqlite":
                assert conn.exec_driver_sql("PRAGMA foreign_key_check").all() == []
                fks = {fk["referred_table"] for fk in inspect(conn).get_foreign_keys("transfers")}
                assert fks == {"accounts"}
        hub_works_on(engine, facts)
    finally:
        engine.dispose()


# -- (e) the command line ---------------------------------------------------------------------------


@pytest.fixture
def tapgift():
    from hil.cli import app  # the `tapgift` command, which mounts hub/cli.py's db commands

    runner = CliRunner()

    def run(*args, code=0):
        result = runner.invoke(app, list(args))
        assert result.exit_code == code, result.output
        return result.output

    return run


def test_db_upgrade_and_current_on_a_sqlite_file(tapgift, tmp_path):
    db = str(tmp_path / "hub.db")
    head = migrations.head()
    assert "no database at" in tapgift("db", "current", "--db", db, code=1)
    assert tapgift("db", "upgrade", "--db", db).startswith(f"{head}: the database was empty")
    assert tapgift("db", "current", "--db", db) == f"{head} (head)\n"
    assert tapgift("db", "upgrade", "--db", db) == f"{head}: the database is up to date\n"


def test_db_upgrade_of_a_database_of_the_previous_release(tapgift, tmp_path):
    url = f"sqlite:///{tmp_path / 'old.db'}"
    load_previous_release(url)
    assert tapgift("db", "current", "--db", url).startswith("none (made before migrations")
    assert "stamped at 0001_baseline" in tapgift("db", "upgrade", "--db", url)
    assert tapgift("db", "current", "--db", url).startswith(migrations.head())


def test_db_upgrade_refuses_a_partial_schema_with_a_message(tapgift, tmp_path):
    url = f"sqlite:///{tmp_path / 'part.db'}"
    engine = make_engine(url)
    tables.metadata.create_all(engine, tables=[tables.metadata.tables["accounts"]])
    engine.dispose()
    assert "not a tapgift database" in tapgift("db", "upgrade", "--db", url, code=1)


@pytest.fixture
def versions_copy(tmp_path, monkeypatch):
    """hub/migrations/versions copied aside: `db revision` writes there, not into the package."""
    folder = tmp_path / "versions"
    shutil.copytree(migrations.VERSIONS, folder, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(migrations, "VERSIONS", folder)
    migrations._installed_script.cache_clear()
    yield folder
    monkeypatch.undo()
    migrations._installed_script.cache_clear()


def new_migration(versions_copy, shipped: set) -> Path:
    [made] = set(versions_copy.glob("0*.py")) - shipped
    return made


def test_db_revision_writes_an_empty_migration_when_nothing_changed(tapgift, versions_copy):
    shipped, parent = set(versions_copy.glob("0*.py")), migrations.head()
    out = tapgift("db", "revision", "-m", "Nothing, really!")
    assert "the migration is empty" in out
    made = new_migration(versions_copy, shipped)
    assert made.name == f"{len(shipped) + 1:04d}_nothing_really.py"
    assert re.search(rf"down_revision = [\"']{parent}[\"']", made.read_text())


def test_db_revision_makes_a_migration_for_a_new_table(tapgift, versions_copy, monkeypatch, tmp_path):
    """A contributor adds a table; `db revision` writes its migration in plain SQLAlchemy types
    (batch operations on SQLite), and the migration makes exactly what the table defines."""
    metadata = MetaData(naming_convention=tables.metadata.naming_convention)
    for table in tables.metadata.tables.values():
        table.to_metadata(metadata)
    Table(
        "parking_passes",
        metadata,
        Column("id", String, primary_key=True),
        Column("account_id", Integer, ForeignKey("accounts.id"), nullable=False, index=True),
        Column("issued_at", UTCDateTime(), nullable=False),
    )
    monkeypatch.setattr(tables, "metadata", metadata)

    shipped = set(versions_copy.glob("0*.py"))
    out = tapgift("db", "revision", "-m", "parking passes")
    assert "empty" not in out
    made = new_migration(versions_copy, shipped)
    text = made.read_text()
    assert re.search(r"op\.create_table\(\s*[\"']parking_passes[\"']", text)
    assert "sa.DateTime(timezone=True)" in text and "sa.String()" in text
    assert imported_modules(text) <= {"__future__", "alembic", "sqlalchemy"}

    engine = open_database(f"sqlite:///{tmp_path / 'new.db'}")
    try:
        assert revision_of(engine) == made.stem
        assert differences(engine, metadata) == []
    finally:
        engine.dispose()
