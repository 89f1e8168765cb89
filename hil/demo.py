"""`tapgift demo` and `tapgift sim`: simulated controllers tapping cards."""

from __future__ import annotations

import asyncio
import shutil
import signal
import time
from pathlib import Path

from hil.broker import Broker, admit_to_password_file
from hil.fleet import Fleet, percentile
from hil.fleet_setup import Fleetplan, provision_db, provision_http
from hub.access import operators
from hub.core.settings import Settings
from hub.devices.registry import HUB_USER, mqtt_credentials
from hub.service import Hub
from hub.wallets import cards as wallets
from hub.wallets.cash_desk import top_up

DEMO_SITE = "demo-park"
# Quick pulses so the demo shows many taps; real dispensers use the firmware defaults.
DEMO_PROFILE = {"pulse_ms": 40, "gap_ms": 40, "cooldown_ms": 0}


def tally(fleet: Fleet) -> dict:
    """What the devices have seen so far."""
    results = [r for d in fleet.devices for r in d.results]
    rtts = [r[3] for r in results if r[1] != "timeout"]
    return {
        "taps": len(results),
        "granted": sum(1 for r in results if r[1] == "grant"),
        "denied": sum(1 for r in results if r[1] == "deny"),
        "timeouts": sum(1 for r in results if r[1] == "timeout"),
        "p50_ms": percentile(rtts, 0.50),
        "p99_ms": percentile(rtts, 0.99),
        "devices": len(fleet.devices),
    }


def _demo_admin(hub: Hub) -> str:
    """The demo hub's first admin, with a generated password (printed: log in at /docs)."""
    import secrets
    import sys

    password = secrets.token_urlsafe(12)
    with hub.engine.begin() as conn:
        operators.add_operator(conn, "admin", password, "admin")
    console = f"http://127.0.0.1:{hub.settings.api_port}/"
    print(f"tapgift demo: the console at {console} — log in as admin, password {password}", file=sys.stderr)
    return password


def _demo_cards(hub: Hub, cards: list[str]) -> list[str]:
    """Make the crowd realistic: some visitors run low, one lost card is blocked,
    and a stranger's card nobody issued shows up now and then."""
    with hub.engine.begin() as conn:
        for uid in cards[: len(cards) // 10]:
            wallets.issue_card(conn, hub.settings.currency, uid + "01")
            top_up(conn, uid + "01", 300, f"demo/low/{uid}", "a small top-up")
        wallets.set_status(conn, cards[-1], "blocked")
    return cards + [uid + "01" for uid in cards[: len(cards) // 10]] + ["0BADC0DE99"]


def _table(stats: dict, hub: Hub, api: str, elapsed: float):
    from rich.table import Table

    table = Table(title=f"tapgift demo — {elapsed:5.1f} s — Ctrl-C stops")
    table.add_column("what")
    table.add_column("value", justify="right")
    for key, value in stats.items():
        table.add_row(key, "-" if value is None else str(value))
    table.add_row("hub batches", str(hub.bridge.stats["batches"]))
    table.add_row("hub refused", str(hub.bridge.stats["refused"]))
    table.add_row("API", f"{api}/docs")
    return table


DEMO_GROUP = "demo"


def _more_hubs(n: int, settings: Settings, broker: Broker, data: Path, api_port: int) -> list:
    """Hub processes 2..n on the demo's database, in one shared-subscription group with the
    demo's own hub, each with its MQTT user and its API on the next port."""
    from hil.bench import start_hub_process

    procs = []
    for i in range(2, n + 1):
        name = f"{HUB_USER}-{i}"
        procs.append(
            start_hub_process(
                settings.db,
                broker.add_hub(name),
                api_port + i - 1,
                data / f"hub-{i}.log",
                client_id=name,
                share_group=DEMO_GROUP,
                env={"TAPGIFT_DYNSEC": "true" if settings.dynsec else "false"},
            )
        )
    return procs


def _stop(procs: list) -> None:
    for proc in procs:
        proc.terminate()
    for proc in procs:
        proc.wait(15)


async def run_demo(
    devices: int,
    duration: float,
    rate: float,
    data: Path,
    api_port: int,
    live: bool = True,
    hubs: int = 1,
) -> dict:
    data.mkdir(parents=True, exist_ok=True)
    for stale in data.glob("demo.db*"):
        stale.unlink()
    shutil.rmtree(data / "flash", ignore_errors=True)
    settings = Settings(
        db=f"sqlite:///{data / 'demo.db'}",
        api_port=api_port,
        client_id=HUB_USER + "-demo",
        share_group=DEMO_GROUP if hubs > 1 else "",
    )
    with Broker(workdir=data / "broker", secure=None) as broker:
        settings.mqtt = broker.url
        settings.dynsec = broker.secure  # the hub admits its devices at the broker
        hub = Hub(settings)
        _demo_admin(hub)
        hub_task = asyncio.create_task(hub.run(api=True))
        await asyncio.wait_for(hub.bridge.connected.wait(), 15)
        more = await asyncio.to_thread(_more_hubs, hubs, settings, broker, data, api_port)
        plan = Fleetplan(devices, cards=max(devices * 5, 20), balance=5000, site=DEMO_SITE, prefix="demo")
        provisioned, cards = provision_db(hub.engine, plan, settings.currency)
        await hub.admission.admit_many([(d, DEMO_SITE, key) for d, key in provisioned])
        cards = _demo_cards(hub, cards)
        fleet = Fleet(provisioned, DEMO_SITE, broker.host, broker.port, str(data / "flash"), DEMO_PROFILE)
        await fleet.start()
        started = time.monotonic()
        run = asyncio.create_task(fleet.run(cards, rate, duration or 10**9))
        try:
            await _watch(run, fleet, hub, f"http://127.0.0.1:{api_port}", started, live)
        finally:
            run.cancel()
            summary = {
                **tally(fleet),
                "duration_s": round(time.monotonic() - started, 1),
                "broker": broker.kind,
                "db": settings.db,
                "hubs": hubs,
            }
            await fleet.stop()
            _stop(more)
            hub.stop()
            await asyncio.gather(hub_task, return_exceptions=True)
    return summary


async def _watch(run: asyncio.Task, fleet: Fleet, hub: Hub, api: str, started: float, live: bool) -> None:
    """Until the run ends or Ctrl-C: the demo then stops cleanly and still summarises."""
    interrupted = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGINT, interrupted.set)
    stop = asyncio.create_task(interrupted.wait())
    try:
        if not live:
            await asyncio.wait({run, stop}, return_when=asyncio.FIRST_COMPLETED)
            return
        from rich.live import Live

        with Live(refresh_per_second=4) as view:
            while not (run.done() or stop.done()):
                view.update(_table(tally(fleet), hub, api, time.monotonic() - started))
                await asyncio.wait({run, stop}, timeout=0.25, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stop.cancel()
        loop.remove_signal_handler(signal.SIGINT)


async def run_sim(
    mqtt: str,
    api: str,
    devices: int,
    rate: float,
    duration: float,
    cards: int,
    site: str,
    passwords: Path | None = None,
    broker_pid: int | None = None,
    api_key: str | None = None,
) -> dict:
    """passwords: the secured broker's password file, to admit the devices to
    (the broker reloads it on SIGHUP: broker_pid, or whoever runs it)."""
    import sys
    import tempfile
    from urllib.parse import urlsplit

    parts = urlsplit(mqtt)
    plan = Fleetplan(devices, cards, balance=100_000, site=site)
    provisioned, uids = await provision_http(api, plan, api_key)
    if passwords is not None:
        admit_to_password_file(
            passwords, dict(mqtt_credentials(d, key) for d, key in provisioned), broker_pid
        )
        if not broker_pid:
            print(
                f"tapgift sim: added {len(provisioned)} devices to {passwords}; reload the broker",
                file=sys.stderr,
            )
    with tempfile.TemporaryDirectory(prefix="tapgift-sim-") as flash:
        fleet = Fleet(
            provisioned,
            site,
            parts.hostname or "127.0.0.1",
            parts.port or 1883,
            flash,
            {"pulse_ms": 10, "gap_ms": 10, "cooldown_ms": 0},
        )
        await fleet.start()
        try:
            return await fleet.run(uids, rate, duration)
        finally:
            await fleet.stop()
