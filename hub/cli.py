"""The running hub's own commands: serve, and keep its database's schema up to date.
`tapgift` (hil/cli.py) offers these beside the tools (demo, bench, firmware); a production install
can run them alone with `python -m hub`."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import typer

from hub.core.settings import Settings

app = typer.Typer(help="The tapgift hub.", no_args_is_help=True, pretty_exceptions_show_locals=False)
db_app = typer.Typer(help="The hub's database: its schema's migrations.", no_args_is_help=True)
app.add_typer(db_app, name="db")

DB_HELP = "hub database: SQLite path/URL or postgresql:// URL [env TAPGIFT_DB]"


@app.command()
def hub(
    db: str | None = typer.Option(None, help=DB_HELP),
    mqtt: str | None = typer.Option(None, help="mqtt://user:pass@host:port [env TAPGIFT_MQTT]"),
    api_host: str | None = typer.Option(None, help="REST API address [env TAPGIFT_API_HOST]"),
    api_port: int | None = typer.Option(None, help="REST API port [env TAPGIFT_API_PORT]"),
    client_id: str | None = typer.Option(None, help="MQTT client id [env TAPGIFT_CLIENT_ID]"),
    share_group: str | None = typer.Option(
        None,
        help="several hubs: the MQTT shared-subscription group they all name, so the broker hands "
        "each device message to one of them ($share/<group>/...) [env TAPGIFT_SHARE_GROUP]",
    ),
    dynsec: bool | None = typer.Option(
        None,
        "--dynsec/--no-dynsec",
        help="admit devices at the broker (Mosquitto's dynamic security plugin) [env TAPGIFT_DYNSEC]",
    ),
    log_level: str = "INFO",
):
    """Run the hub: MQTT bridge and REST API (OpenAPI at /docs). Upgrades the database's schema
    first."""
    from hub import migrations
    from hub.service import Hub, configure_logging

    if share_group and any(ch in share_group for ch in "/+#"):
        raise typer.BadParameter("a share group's name holds no '/', '+' or '#'", param_hint="--share-group")
    given = dict(
        db=db,
        mqtt=mqtt,
        api_host=api_host,
        api_port=api_port,
        client_id=client_id,
        share_group=share_group,
        dynsec=dynsec,
    )
    settings = Settings(**{k: v for k, v in given.items() if v is not None})
    configure_logging(log_level)
    try:
        hub = Hub(settings)
    except migrations.SchemaError as exc:  # a database the hub will not touch: say why, no traceback
        raise _schema_error(exc) from None
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(hub.run())


def _database(db: str | None) -> str:
    return Settings(**({"db": db} if db else {})).db


def _schema_error(exc: Exception) -> typer.Exit:
    typer.echo(f"error: {exc}", err=True)
    return typer.Exit(1)


def _schema_state(engine) -> tuple[str | None, bool]:
    """(the revision the database is at, whether it holds the baseline's tables: made before
    migrations when it has no revision)."""
    from sqlalchemy import inspect

    from hub import migrations

    with engine.connect() as conn:
        at = migrations.current(conn)
        tables = set(inspect(conn).get_table_names())
    return at, bool(tables & migrations.baseline_tables())


@db_app.command("upgrade")
def db_upgrade(db: str | None = typer.Option(None, help=DB_HELP)):
    """Bring the database's schema to the newest migration, in place, its data kept.

    An empty database gets every migration; one made by the release before migrations is stamped
    at the baseline first. `tapgift hub` does the same when it starts."""
    from hub import migrations
    from hub.core.engine import make_engine

    engine = make_engine(_database(db))
    try:
        before, made_before = _schema_state(engine)
        migrations.upgrade(engine)
        after, _ = _schema_state(engine)
    except migrations.SchemaError as exc:
        raise _schema_error(exc) from None
    finally:
        engine.dispose()
    if before == after:
        typer.echo(f"{after}: the database is up to date")
    elif before is None:
        typer.echo(
            f"{after}: the database was made before migrations; stamped at {migrations.BASELINE}, upgraded"
            if made_before
            else f"{after}: the database was empty; every migration ran"
        )
    else:
        typer.echo(f"{after}: the database was upgraded from {before}")


@db_app.command("current")
def db_current(db: str | None = typer.Option(None, help=DB_HELP)):
    """Print the migration the database is at (first word), and whether it is the newest.

    Changes nothing."""
    from hub import migrations
    from hub.core.engine import make_engine, normalise_url

    url = normalise_url(_database(db))
    path = url.split("///", 1)[1] if url.startswith("sqlite") and "///" in url else ""
    if path and path != ":memory:" and not Path(path).exists():
        typer.echo(f"error: no database at {path}", err=True)
        raise typer.Exit(1)
    engine = make_engine(url)
    try:
        at, made_before = _schema_state(engine)
        newest = migrations.head()
    except migrations.SchemaError as exc:
        raise _schema_error(exc) from None
    finally:
        engine.dispose()
    if at == newest:
        typer.echo(f"{at} (head)")
    elif at is not None:
        typer.echo(f"{at} (the newest is {newest}: run `tapgift db upgrade`)")
    elif made_before:
        typer.echo(
            f"none (made before migrations: `tapgift db upgrade` stamps it at "
            f"{migrations.BASELINE} and upgrades it to {newest})"
        )
    else:
        typer.echo("none (an empty database)")


@db_app.command("revision")
def db_revision(
    message: str = typer.Option(..., "-m", "--message", help="what the migration does, in a few words"),
    db: str | None = typer.Option(
        None, help="an up-to-date database to compare with; default: a fresh SQLite one"
    ),
):
    """For contributors: write a new migration from what hub/tables defines and the migrations lack.

    The file goes into hub/migrations/versions (Alembic's autogenerate, compared with a database at
    the newest migration). Read it over: autogenerate misses renames and some constraint changes."""
    from hub import migrations

    try:
        made = migrations.revision(message, db)
    except migrations.SchemaError as exc:
        raise _schema_error(exc) from None
    typer.echo(f"wrote {made.path}")
    if not made.changes:
        typer.echo(
            "the tables and the migrations agree: the migration is empty (fill in "
            "upgrade() by hand for a data migration, or delete it)"
        )


if __name__ == "__main__":
    app()


user_app = typer.Typer(
    help="Operators: the people who log in to the API and the console.", no_args_is_help=True
)
key_app = typer.Typer(help="API keys for tills, web shops, kiosks and other systems.", no_args_is_help=True)
app.add_typer(user_app, name="user")
app.add_typer(key_app, name="key")


def _with_database(db: str | None, fn, *args, **kw):
    """fn(conn, *args, **kw) in one transaction on the (upgraded) database; a refusal is
    printed as an error, without a traceback."""
    from hub.core.errors import DomainError
    from hub.migrations import open_database

    try:
        engine = open_database(_database(db))
    except Exception as exc:
        raise _schema_error(exc) from None
    try:
        with engine.begin() as conn:
            return fn(conn, *args, **kw)
    except DomainError as exc:
        raise _schema_error(exc) from None
    finally:
        engine.dispose()


@user_app.command("add")
def user_add(
    username: str = typer.Argument(..., help="the login name"),
    role: str = typer.Option(..., help="admin, manager, cashier, kiosk or auditor"),
    password: str | None = typer.Option(
        None,
        help="at least 10 characters; omitted: a generated one is printed [env TAPGIFT_PASSWORD]",
        envvar="TAPGIFT_PASSWORD",
    ),
    site: str | None = typer.Option(None, help="only this site's outlets"),
    outlet: str | None = typer.Option(None, help="only this outlet"),
    db: str | None = typer.Option(None, help=DB_HELP),
):
    """Add an operator; on a fresh hub, the first admin: `tapgift user add admin --role admin`."""
    import secrets

    from hub.access import operators

    generated = password is None
    password = password or secrets.token_urlsafe(12)
    made = _with_database(db, operators.add_operator, username, password, role, site, outlet)
    typer.echo(f"user {made['username']} ({made['role']}) added")
    if generated:
        typer.echo(f"password: {password}")


@key_app.command("add")
def key_add(
    name: str = typer.Option(..., help="what uses it, e.g. 'till 3, bar Lagune'"),
    role: str = typer.Option(..., help="admin, manager, cashier, kiosk or auditor"),
    site: str | None = typer.Option(None, help="only this site's outlets"),
    outlet: str | None = typer.Option(None, help="only this outlet"),
    db: str | None = typer.Option(None, help=DB_HELP),
):
    """Make an API key; it is printed once (send it as the X-API-Key header)."""
    from hub.access import keys
    from hub.access.callers import SYSTEM
    from hub.core.clock import utcnow

    made = _with_database(
        db,
        lambda conn: keys.create_key(
            conn, SYSTEM, name=name, role=role, site_id=site, outlet_id=outlet, now=utcnow()
        ),
    )
    typer.echo(made["key"])
