"""The `tapgift` command: the hub's own commands (hub/cli.py) and the tools around it: demo, sim,
bench, firmware build/footprint/flash, device provisioning. Tools may import the hub; the hub never
imports them."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

import typer

from hub import cli as hub_cli
from hub.core.errors import DomainError
from hub.core.settings import Settings

app = typer.Typer(
    help="tapgift: cashless balance, bonus and gift system.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)
fw = typer.Typer(help="Firmware: build for flashing, measure on real MicroPython.", no_args_is_help=True)
app.command("hub")(hub_cli.hub)
app.add_typer(hub_cli.db_app, name="db")
app.add_typer(hub_cli.user_app, name="user")
app.add_typer(hub_cli.key_app, name="key")
app.add_typer(fw, name="fw")
device = typer.Typer(
    help="Controllers: register them, issue their key and MQTT credentials.", no_args_is_help=True
)
app.add_typer(device, name="device")


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
def demo(
    devices: int = typer.Option(20, min=1, help="simulated dispensers"),
    duration: float = typer.Option(0, min=0, help="seconds to run; 0 runs until Ctrl-C"),
    rate: float | None = typer.Option(None, help="taps per second over all devices (default: 1 per device)"),
    data: Path = typer.Option(Path("data"), help="folder for the demo's SQLite file"),
    api_port: int = typer.Option(8000, help="port of the hub's API"),
    as_json: bool = typer.Option(False, "--json", help="print one JSON summary at the end"),
    hubs: int = typer.Option(
        1, min=1, help="hub processes sharing the devices' topics; hub i serves its API on api-port + i - 1"
    ),
):
    """Broker + hub + simulated controllers tapping random cards, with a live summary."""
    from hil.demo import run_demo

    summary = asyncio.run(
        run_demo(devices, duration, rate or float(devices), data, api_port, live=not as_json, hubs=hubs)
    )
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
    passwords: Path | None = typer.Option(
        None, help="a secured Mosquitto's password file: admit the simulated devices to it"
    ),
    broker_pid: int | None = typer.Option(
        None, help="with --passwords: the broker's pid, signalled to reload (else reload it yourself)"
    ),
    api_key: str | None = typer.Option(
        None,
        envvar="TAPGIFT_API_KEY",
        help="an admin API key of the hub (`tapgift key add`) [env TAPGIFT_API_KEY]",
    ),
):
    """Drive simulated controllers against a running hub and summarise what they saw."""
    from hil.demo import run_sim

    summary = asyncio.run(
        run_sim(mqtt, api, devices, rate, duration, cards, site, passwords, broker_pid, api_key)
    )
    _emit(summary, as_json)


@app.command()
def bench(
    devices: int = typer.Option(200, min=1),
    rate: float = typer.Option(500.0, min=1),
    duration: float = typer.Option(10.0, min=1),
    db: str = typer.Option(
        "sqlite",
        help="'sqlite' (a temp file) or a postgresql:// admin URL (a scratch database is made and dropped)",
    ),
    echo_count: int = typer.Option(2000, help="MQTT request/reply round trips for the echo figure"),
    loyalty: bool = typer.Option(
        False, "--loyalty", help="taps through the loyalty engine: discounts and points at an outlet"
    ),
    hubs: int = typer.Option(
        1, min=1, help="hub processes sharing the devices' topics (a shared subscription)"
    ),
    generators: int = typer.Option(1, min=1, help="processes of the lean load generator"),
    fleet: str = typer.Option("lean", help="'lean' (hil/loadgen.py) or 'firmware' (full firmware stacks)"),
    as_json: bool = typer.Option(False, "--json"),
):
    """Measure: the plain MQTT round trip, then taps through real hubs and Mosquitto, with the CPU
    per tap of the hubs, the broker and the load generator."""
    from hil.bench import run_bench

    if fleet not in ("lean", "firmware"):
        raise typer.BadParameter("--fleet is 'lean' or 'firmware'")
    _emit(run_bench(devices, rate, duration, db, echo_count, loyalty, hubs, generators, fleet), as_json)


@app.command()
def chaos(
    db: str = typer.Option("sqlite", help="'sqlite' (a temp file) or a postgresql:// admin URL (scratch db)"),
    devices: int = typer.Option(20, min=1),
    kills: int = typer.Option(2, min=0, help="times the hub is killed with SIGKILL and started again"),
    broker_restarts: int = typer.Option(1, min=0),
    duration: float = typer.Option(20.0, min=1, help="seconds of tapping (at least; faults may extend it)"),
    seed: int = typer.Option(1, help="chooses the fault moments: the same seed, the same plan"),
    rate: float | None = typer.Option(None, min=0.1, help="taps/s over the fleet (default 5 per device)"),
    hold_ttl: int = typer.Option(30, min=1, help="seconds before the hub voids an unreported hold"),
    work: Path | None = typer.Option(
        None, help="keep the hub's log, the broker's and the devices' flash here"
    ),
    as_json: bool = typer.Option(False, "--json"),
):
    """Tap through a real broker and hub while the hub is killed and the broker restarted, then
    check the bank's invariants; exits 1 if one is broken."""
    import tempfile

    from hil.chaos import Plan, for_table, run_on

    plan = Plan(devices, kills, broker_restarts, duration, seed, rate, hold_ttl)
    if work is not None:
        summary = run_on(db, plan, work)
    else:
        with tempfile.TemporaryDirectory(prefix="tapgift-chaos-") as tmp:
            summary = run_on(db, plan, Path(tmp))
    _emit(summary if as_json else for_table(summary), as_json)
    if not summary["ok"]:
        raise typer.Exit(1)


@app.command("bench-api")
def bench_api(
    db: str = typer.Option(
        "sqlite",
        help="'sqlite' (a temp file) or a postgresql:// admin URL (a scratch database is made and dropped)",
    ),
    seconds: float = typer.Option(10.0, min=1, help="seconds of paying per round"),
    tills: list[int] = typer.Option([1, 8], help="concurrent tills, one round each"),
    kind: list[str] = typer.Option(
        ["1 article", "3 articles", "top-up"], help="what the tills do: '1 article', '3 articles', 'top-up'"
    ),
    hubs: list[int] = typer.Option(
        [1], help="hub processes the tills are spread over, one set of rounds each"
    ),
    as_json: bool = typer.Option(False, "--json"),
):
    """Measure the REST path of cash registers: tills paying 1- and 3-article baskets (discount,
    points) and topping up cards."""
    from hil import bench_api as ba

    summary = ba.run(db, seconds, tills, kinds=kind, hubs=hubs)
    _emit(summary if as_json else ba.for_table(summary), as_json)


@app.command("bench-reports")
def bench_reports(
    db: str = typer.Option(
        "sqlite",
        help="'sqlite' (a temp file) or a postgresql:// admin URL (a scratch database is made and dropped)",
    ),
    days: int = typer.Option(120, min=1, help="days of the season"),
    outlets: int = typer.Option(10, min=1, help="outlets"),
    machines: int = typer.Option(10, min=1, help="machines per outlet"),
    taps: int = typer.Option(100, min=0, help="taps per machine and day (a hold and two transfers each)"),
    baskets: int = typer.Option(300, min=0, help="baskets per outlet and day"),
    topups: int = typer.Option(100, min=0, help="top-ups per outlet and day"),
    file: Path | None = typer.Option(
        None, help="SQLite: keep the season in this file (seeded if absent, else timed again as it is)"
    ),
    as_json: bool = typer.Option(False, "--json"),
):
    """Seed a season of taps, baskets and top-ups straight into the tables (bulk inserts), then
    time every report over one day and over the season, for all outlets and for one."""
    from hil import bench_reports as br

    summary = br.run(db, days, outlets, machines, taps, baskets, topups, file=file)
    _emit(summary if as_json else br.for_table(summary), as_json)


@app.command("bench-settlement")
def bench_settlement(
    db: str = typer.Option(
        "sqlite",
        help="'sqlite' (a temp file) or a postgresql:// admin URL (a scratch database is made and dropped)",
    ),
    cards: int = typer.Option(2000, min=1, help="cards of the first day, each topped up once"),
    spends: int = typer.Option(50, min=0, help="baskets per card"),
    outlets: int = typer.Option(8, min=1, help="outlets"),
    as_json: bool = typer.Option(False, "--json"),
):
    """Time the settlement by period (hub.settlement): a day's statement, its close, and the next
    day's statement once the first is closed."""
    from hil import bench_settlement as bs

    _emit(bs.run(db, cards, spends, outlets), as_json)


@app.command("bench-ledger")
def bench_ledger(
    db: str = typer.Option(
        "postgresql://postgres@127.0.0.1:5432/postgres",
        help="a PostgreSQL admin URL (a scratch database is made and dropped), or 'sqlite' for a temp file",
    ),
    seconds: float = typer.Option(10.0, min=1),
    batch: int = typer.Option(256, min=1, help="requests per transaction, as the bridge batches"),
    cards: int = typer.Option(2000, min=1, help="wallets the debits are spread over"),
    scale: int = typer.Option(10, min=1, help="pgbench scale factor (accounts = 100,000 x scale)"),
    bookers: int = typer.Option(
        1,
        min=1,
        max=16,
        help="processes booking at once (as several hubs on one database), each its own devices",
    ),
    as_json: bool = typer.Option(False, "--json"),
):
    """Measure debits/s through the booking path alone, beside pgbench TPC-B on the same server."""
    from hil import bench_ledger as bl

    if db == "sqlite":
        import tempfile

        with tempfile.TemporaryDirectory(prefix="tapgift-bench-") as work:
            summary = {
                **bl.debits_per_second(
                    f"sqlite:///{work}/bench.db", seconds, batch, cards=cards, bookers=bookers
                ),
                "db": "sqlite",
            }
    else:
        summary = bl.run(db, seconds, batch, cards, scale, bookers)
    _emit(summary, as_json)


@fw.command("build")
def fw_build(out: Path = typer.Option(Path("build/firmware"), help="output folder")):
    """Compile firmware/ and protocol/ to .mpy with mpy-cross, ready for mpremote."""
    from hil import micropython

    files = micropython.build(out)
    typer.echo(f"{len(files)} files in {out}")


@fw.command("footprint")
def fw_footprint(
    kind: list[str] = typer.Option(None, help="only this machine profile (repeat for more; default: all)"),
    reader: list[str] = typer.Option(None, help="only this reader type (repeat for more; default: all)"),
    as_json: bool = typer.Option(False, "--json"),
):
    """The heap of the running app on the real MicroPython interpreter, from the .mpy build a
    controller runs, for each machine profile and reader: as a board starts it (every module
    main() loads, the ESP32 board and its reader driver, a 256-card deny list on flash, the
    commands module), after one tap's journal writes (heap_running), and the largest figure
    of its start-up steps (heap_peak); beside it, the heap of `import firmware.app` alone."""
    import tempfile

    from hil import micropython

    with tempfile.TemporaryDirectory(prefix="tapgift-fw-") as out:
        micropython.build(Path(out))
        report = micropython.running_footprints(
            Path(out), kind or micropython.KINDS, reader or micropython.READERS
        )
        report["heap_bytes_import_app"] = micropython.footprint("firmware.app", build_dir=Path(out))[
            "heap_bytes"
        ]
    _emit(report, as_json)


@fw.command("publish")
def fw_publish(
    version: str | None = typer.Option(
        None, help="the bundle's version (default: firmware/app.py's VERSION)"
    ),
    build: Path | None = typer.Option(None, help="a `tapgift fw build` folder (default: build one now)"),
    db: str | None = typer.Option(None, help=hub_cli.DB_HELP),
):
    """Publish the .mpy build as a firmware bundle on the hub (its database): its lib/ files and
    a manifest of their SHA-256 hashes. Roll it out to controllers with POST
    /api/v1/firmware/rollouts (a group first); each gets the manifest signed with its own key."""
    import tempfile

    from sqlalchemy.exc import SQLAlchemyError

    from firmware.app import VERSION
    from hil import micropython
    from hub.devices import firmware_updates
    from hub.migrations import open_database

    settings = Settings(**({"db": db} if db else {}))
    with tempfile.TemporaryDirectory(prefix="tapgift-fw-") as out:
        if build is None:
            build = Path(out)
            micropython.build(build)
        files = firmware_updates.files_of_build(build / "lib")
        try:
            engine = open_database(settings.db)
            with engine.begin() as conn:
                bundle = firmware_updates.publish(conn, version or VERSION, files, by="tapgift fw publish")
        except (DomainError, OSError, SQLAlchemyError) as e:
            raise _fail(str(e)) from e
    typer.echo(json.dumps(bundle, default=str))


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(1)


_DB_HELP = hub_cli.DB_HELP
_BROKER_HELP = "broker as devices reach it, mqtt://host:port (no user:pass)"
_PROFILE_HELP = "profile fields as a JSON object, e.g. '{\"units\": 2}' (defaults: firmware/config.py)"
_ADMIN_HELP = "with --dynsec: the broker, as the hub's user: mqtt://user:pass@host:port [env TAPGIFT_MQTT]"
_DYNSEC_HELP = (
    "admit the device at the broker at once (Mosquitto's dynamic security plugin), as the hub "
    "does [env TAPGIFT_DYNSEC]"
)
_PINS_HELP = "pin fields as a JSON object, e.g. '{\"relays\": [25]}' (defaults: firmware/config.py)"


def _provision_dict(device_id, site, key, broker, ssid, password, kind, profile, pins) -> dict:
    from hil import provisioning

    if not broker:
        raise provisioning.ProvisioningError(
            "--broker missing: the address devices reach, e.g. mqtt://10.0.0.2:1883"
        )
    ca = None
    ca_file = os.environ.get("TAPGIFT_BROKER_CA")  # an mqtts:// broker's CA (PEM file)
    if ca_file:
        try:
            ca = Path(ca_file).read_text()
        except OSError as e:
            raise provisioning.ProvisioningError(f"TAPGIFT_BROKER_CA {ca_file}: {e.strerror}") from None
    return provisioning.build(
        device_id,
        site,
        key,
        broker,
        ssid,
        password,
        kind,
        provisioning.parse_json_option(profile, "profile"),
        provisioning.parse_json_option(pins, "pins"),
        ca,
    )


@device.command("add")
def device_add(
    device_id: str = typer.Option(..., "--id", help="device id: letters, digits, _ - . (max 40)"),
    site: str = typer.Option(..., help="site id"),
    price: int = typer.Option(
        ..., help="price per unit in minor units (cents), > 0 (0 for a turnstile that costs nothing)"
    ),
    kind: str = typer.Option("dispenser", help="machine profile"),
    name: str = typer.Option("", help="display name (default: the id)"),
    db: str | None = typer.Option(None, help=_DB_HELP),
    out: Path | None = typer.Option(None, help="also write the device's provisioning file here"),
    broker: str | None = typer.Option(None, envvar="TAPGIFT_DEVICE_BROKER", help=_BROKER_HELP),
    wifi_ssid: str | None = typer.Option(None, envvar="TAPGIFT_WIFI_SSID"),
    wifi_password: str | None = typer.Option(None, envvar="TAPGIFT_WIFI_PASSWORD"),
    profile: str | None = typer.Option(None, help=_PROFILE_HELP),
    pins: str | None = typer.Option(None, help=_PINS_HELP),
    mqtt: str | None = typer.Option(None, help=_ADMIN_HELP),
    dynsec: bool | None = typer.Option(None, "--dynsec/--no-dynsec", help=_DYNSEC_HELP),
):
    """Register a controller; print its key and MQTT credentials as JSON (shown only here).
    With --dynsec (as the hub runs), the broker admits it at once: its user, password and
    topics; if the broker does not, nothing is registered."""
    import contextlib

    from sqlalchemy.exc import SQLAlchemyError

    from hil import provisioning
    from hil.broker import DynsecControl
    from hub.devices import admission
    from hub.devices.registry import mqtt_credentials
    from hub.migrations import open_database

    given = {"db": db, "mqtt": mqtt, "dynsec": dynsec}
    settings = Settings(**{k: v for k, v in given.items() if v is not None})
    control = None

    def write_file_and_admit(key: str) -> None:
        # Inside the registration's transaction: if either fails, nothing is registered.
        if out is not None:
            provisioning.write(
                _provision_dict(device_id, site, key, broker, wifi_ssid, wifi_password, kind, profile, pins),
                out,
            )
        if control is not None:
            control.run(admission.admit_commands(device_id, site, mqtt_credentials(device_id, key)[1]))

    try:
        provisioning.check_device_input(device_id, site, kind, price)
        if out is not None:  # refuse bad file input before anything is registered
            _provision_dict(
                device_id,
                site,
                provisioning.PLACEHOLDER_KEY,
                broker,
                wifi_ssid,
                wifi_password,
                kind,
                profile,
                pins,
            )
        with contextlib.ExitStack() as stack:
            if settings.dynsec:  # connected before registering: an unreachable broker fails first
                control = stack.enter_context(DynsecControl(settings.mqtt))
            key = provisioning.register(
                open_database(settings.db),
                device_id,
                site,
                price,
                settings.currency,
                kind,
                name,
                then=write_file_and_admit,
            )
    except (
        provisioning.ProvisioningError,
        DomainError,
        OSError,
        SQLAlchemyError,
        RuntimeError,  # the broker refused to admit it
    ) as e:
        raise _fail(str(e)) from e
    user, password = mqtt_credentials(device_id, key)
    typer.echo(
        json.dumps(
            {
                "device": device_id,
                "site": site,
                "kind": kind,
                "name": name or device_id,
                "unit_price": price,
                "key": key,
                "mqtt_username": user,
                "mqtt_password": password,
                "provision": str(out) if out else None,
                "admitted": settings.dynsec,
            }
        )
    )


@device.command("admit")
def device_admit(
    ids: list[str] | None = typer.Argument(None, help="device ids (default: with --all, every one)"),
    all_devices: bool = typer.Option(False, "--all", help="every registered device"),
    db: str | None = typer.Option(None, help=_DB_HELP),
    mqtt: str | None = typer.Option(None, help=_ADMIN_HELP.replace("with --dynsec: ", "")),
):
    """Admit registered devices at the broker (Mosquitto's dynamic security plugin) with the keys
    they have, so their boards log in as they are: after moving a site's broker to the plugin, or
    to repair one. New devices are admitted when they are registered (the hub's TAPGIFT_DYNSEC)."""
    from sqlalchemy import select
    from sqlalchemy.exc import SQLAlchemyError

    from hil.broker import DynsecControl
    from hub.devices import admission
    from hub.devices.registry import DEVICES, mqtt_credentials
    from hub.migrations import open_database

    if bool(ids) == all_devices:
        raise _fail("give device ids or --all")
    settings = Settings(**{k: v for k, v in {"db": db, "mqtt": mqtt}.items() if v is not None})
    try:
        engine = open_database(settings.db)
        with engine.connect() as conn:
            query = select(DEVICES.c.id, DEVICES.c.site, DEVICES.c.key_hex).order_by(DEVICES.c.id)
            rows = conn.execute(query if all_devices else query.where(DEVICES.c.id.in_(ids))).all()
    except (OSError, SQLAlchemyError) as e:
        raise _fail(str(e)) from e
    missing = sorted(set(ids or ()) - {r.id for r in rows})
    if missing:
        raise _fail(f"not registered: {', '.join(missing)}")
    try:
        commands = [
            c
            for r in rows
            for c in admission.admit_commands(r.id, r.site, mqtt_credentials(r.id, r.key_hex)[1])
        ]
        if commands:
            with DynsecControl(settings.mqtt, timeout=30) as control:
                control.run(commands)
    except (DomainError, OSError, SQLAlchemyError, RuntimeError) as e:
        raise _fail(str(e)) from e
    typer.echo(json.dumps({"admitted": [r.id for r in rows]}))


@fw.command("flash")
def fw_flash(
    port: str = typer.Option(..., help="serial port: /dev/ttyUSB0, COM3, auto, id:SERIAL"),
    provision: Path | None = typer.Option(None, help="the device's provisioning file"),
    build: Path | None = typer.Option(None, help="build folder (default: a temporary one)"),
    dry_run: bool = typer.Option(False, "--dry-run", help="print the mpremote commands, change nothing"),
    settle: float = typer.Option(3.0, min=0, help="seconds to wait for the board to restart"),
    device_id: str | None = typer.Option(
        None,
        "--device-id",
        help="instead of --provision: this device's file from the hub (registered if new)",
    ),
    site: str | None = typer.Option(None, help="with --device-id"),
    price: int | None = typer.Option(None, help="with --device-id, to register a new device (cents)"),
    kind: str = typer.Option("dispenser", help="with --device-id"),
    name: str = typer.Option("", help="with --device-id, for a new device"),
    db: str | None = typer.Option(None, help=_DB_HELP),
    broker: str | None = typer.Option(None, envvar="TAPGIFT_DEVICE_BROKER", help=_BROKER_HELP),
    wifi_ssid: str | None = typer.Option(None, envvar="TAPGIFT_WIFI_SSID"),
    wifi_password: str | None = typer.Option(None, envvar="TAPGIFT_WIFI_PASSWORD"),
    profile: str | None = typer.Option(None, help=_PROFILE_HELP),
    pins: str | None = typer.Option(None, help=_PINS_HELP),
    provision_out: Path | None = typer.Option(None, help="with --device-id: keep the file here"),
):
    """Build the firmware and copy it with the device's provisioning file onto a board with
    mpremote, then reset it. Give --provision FILE, or --device-id/--site/--broker/--wifi-*."""
    import tempfile

    from sqlalchemy.exc import SQLAlchemyError

    from hil import flashing, micropython, provisioning

    if (provision is None) == (device_id is None):
        raise _fail("give either --provision FILE or --device-id ID (with --site, --broker, --wifi-ssid)")
    with tempfile.TemporaryDirectory(prefix="tapgift-flash-") as tmp:
        # A dry run shows fw build's default folder, so its script can be run by hand.
        build_dir = build or (Path("build/firmware") if dry_run else Path(tmp) / "build")
        try:
            flashing.check_port(port)
            if device_id is not None:
                provision = _flash_provision(
                    device_id,
                    site,
                    price,
                    kind,
                    name,
                    db,
                    broker,
                    wifi_ssid,
                    wifi_password,
                    profile,
                    pins,
                    provision_out or Path(tmp) / "provision.json",
                    dry_run,
                )
            else:
                provisioning.load(provision)
            steps = flashing.plan(port, build_dir, provision)
            if dry_run:
                typer.echo(
                    f"# dry run: nothing built, registered or copied\n"
                    f"# first: tapgift fw build --out {build_dir}"
                )
                typer.echo("\n".join(flashing.script(steps, settle)))
                return
            files = micropython.build(build_dir)
            flashing.check_build(build_dir)
            typer.echo(f"# built {len(files)} files in {build_dir}")
            flashing.run(steps, settle, echo=typer.echo)
        except (
            provisioning.ProvisioningError,
            flashing.FlashError,
            micropython.MpyCrossError,
            DomainError,
            OSError,
            SQLAlchemyError,
            RuntimeError,  # the broker refused to admit the device (TAPGIFT_DYNSEC)
        ) as e:
            raise _fail(str(e)) from e
    typer.echo(f"# flashed {port}")


def _flash_provision(
    device_id, site, price, kind, name, db, broker, ssid, password, profile, pins, out: Path, dry_run: bool
) -> Path:
    """The provisioning file for --device-id: the device fetched from the hub, or registered."""
    from hil import provisioning
    from hub.migrations import open_database

    if not site:
        raise provisioning.ProvisioningError("--site missing (with --device-id)")
    provisioning.check_device_input(device_id, site, kind, price)
    _provision_dict(
        device_id, site, provisioning.PLACEHOLDER_KEY, broker, ssid, password, kind, profile, pins
    )
    if dry_run:
        typer.echo(
            f"# would fetch device {device_id} from the hub's database (or register it) and write {out}"
        )
        return out
    import contextlib

    from hil.broker import DynsecControl
    from hub.devices import admission
    from hub.devices.registry import mqtt_credentials

    settings = Settings(**({"db": db} if db else {}))
    control = None

    def write_file(key: str) -> None:
        provisioning.write(
            _provision_dict(device_id, site, key, broker, ssid, password, kind, profile, pins), out
        )
        if control is not None:  # TAPGIFT_DYNSEC: the broker admits the key the board gets
            control.run(admission.admit_commands(device_id, site, mqtt_credentials(device_id, key)[1]))

    with contextlib.ExitStack() as stack:
        if settings.dynsec:
            control = stack.enter_context(DynsecControl(settings.mqtt))
        _, created = provisioning.fetch_or_register(
            open_database(settings.db), device_id, site, price, settings.currency, kind, name, then=write_file
        )
    typer.echo(
        f"# device {device_id} {'registered' if created else 'found'} at site {site}; provisioning file {out}"
    )
    return out


if __name__ == "__main__":
    app()
