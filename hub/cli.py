"""The running hub's own commands: serve, and keep its database's schema up to date.
`tapgift` (hil/cli.py) offers these beside the tools (demo, bench, firmware); a production install
can run them alone with `python -m hub`."""
from __future__ import annotations

import asyncio
from typing import Optional

import typer

from hub.core.settings import Settings

app = typer.Typer(help="The tapgift hub.", no_args_is_help=True, pretty_exceptions_show_locals=False)
db_app = typer.Typer(help="The hub's database: its schema's migrations.", no_args_is_help=True)
app.add_typer(db_app, name="db")

DB_HELP = "hub database: SQLite path/URL or postgresql:// URL [env TAPGIFT_DB]"


@app.command()
def hub(
    db: Optional[str] = typer.Option(None, help=DB_HELP),
    mqtt: Optional[str] = typer.Option(None, help="mqtt://user:pass@host:port [env TAPGIFT_MQTT]"),
    api_host: Optional[str] = typer.Option(None, help="REST API address [env TAPGIFT_API_HOST]"),
    api_port: Optional[int] = typer.Option(None, help="REST API port [env TAPGIFT_API_PORT]"),
    client_id: Optional[str] = typer.Option(None, help="MQTT client id [env TAPGIFT_CLIENT_ID]"),
    log_level: str = "INFO",
):
    """Run the hub: MQTT bridge and REST API (OpenAPI at /docs). Upgrades the database's schema
    first."""
    from hub.service import Hub, configure_logging

    given = dict(db=db, mqtt=mqtt, api_host=api_host, api_port=api_port, client_id=client_id)
    settings = Settings(**{k: v for k, v in given.items() if v is not None})
    configure_logging(log_level)
    try:
        asyncio.run(Hub(settings).run())
    except KeyboardInterrupt:
        pass


@db_app.command("upgrade")
def db_upgrade(db: Optional[str] = typer.Option(None, help=DB_HELP)):
    """Bring the database's schema to the newest migration, in place (data kept)."""
    from hub import migrations

    settings = Settings(**({"db": db} if db else {}))
    engine = migrations.open_database(settings.db)
    engine.dispose()
    typer.echo("database is up to date")


if __name__ == "__main__":
    app()
