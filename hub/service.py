"""The hub process: the database, the REST API (and the operator console, the scheduled
reports) on the main thread's event loop, and the MQTT bridge on a thread with an event loop of
its own (BridgeThread), where it books each batch of taps inline: a commit holds up the bridge's
loop alone, never a REST request."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
import threading

import uvicorn

from hub import console
from hub.access.limits import Ceilings
from hub.api.app import create_app
from hub.core.settings import Settings
from hub.devices.admission import Admission, DynsecAdmission
from hub.devices.registry import HUB_USER, DeviceDirectory, reserved_device_id
from hub.migrations import open_database
from hub.mqtt.bridge import Bridge
from hub.reports import schedule as report_schedule
from hub.taps.authorize import Authorizer
from hub.vouchers.delivery import MailSettings


class BridgeThread:
    """Runs Bridge.run() in an event loop of its own on a thread of its own. run() starts it
    and returns when it ends; cancelled (or after stop()), it stops the bridge (which
    disconnects and gives its kept database connection back on that thread) and waits for it."""

    def __init__(self, bridge: Bridge):
        self.bridge = bridge
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task | None = None
        self._stopping = False

    async def run(self) -> None:
        here = asyncio.get_running_loop()
        ended: asyncio.Future = here.create_future()

        def finish(error: BaseException | None) -> None:
            if ended.done():
                return
            if error is None:
                ended.set_result(None)
            else:
                ended.set_exception(error)

        def main() -> None:
            error = None
            try:
                asyncio.run(self._serve())
            except asyncio.CancelledError:
                pass
            except BaseException as exc:  # handed to run()'s caller
                error = exc
            with contextlib.suppress(RuntimeError):  # run()'s loop closed meanwhile
                here.call_soon_threadsafe(finish, error)

        threading.Thread(target=main, name="tapgift-bridge", daemon=True).start()
        try:
            await asyncio.shield(ended)
        finally:
            self.stop()
            await asyncio.shield(ended)

    async def _serve(self) -> None:
        self._loop, self._task = asyncio.get_running_loop(), asyncio.current_task()
        if not self._stopping:
            await self.bridge.run()

    def stop(self) -> None:
        """Ask the bridge to stop, from any thread."""
        self._stopping = True
        loop, task = self._loop, self._task
        if loop is not None and task is not None:
            with contextlib.suppress(RuntimeError):  # its loop has closed: it has stopped
                loop.call_soon_threadsafe(task.cancel)


class Hub:
    def __init__(self, settings: Settings):
        if settings.dynsec and not reserved_device_id(settings.client_id):
            # The broker binds a device's client id to its id; a hub's must be a name no
            # device can have, or a device could take over the hub's session.
            raise ValueError(
                f"with dynsec, the hub's client id starts with {HUB_USER!r}: {settings.client_id!r}"
            )
        self.settings = settings
        self.engine = open_database(settings.db)
        self.directory = DeviceDirectory(self.engine)
        self.authorizer = Authorizer(self.engine, hold_ttl_s=settings.hold_ttl_s, keep_connection=True)
        self.bridge = Bridge(
            settings.mqtt,
            self.directory,
            self.authorizer,
            client_id=settings.client_id,
            share_group=settings.share_group,
            batch_max=settings.batch_max,
            batch_window_s=settings.batch_window_ms / 1000,
            sweep_interval_s=settings.sweep_interval_s,
            ca_file=settings.mqtt_ca,
        )
        self.admission = DynsecAdmission(self.bridge) if settings.dynsec else Admission()
        ceilings = Ceilings(
            settings.topup_ceiling_per_day, settings.refund_ceiling_per_day, settings.cashier_refund_limit
        )
        self.app = create_app(self.engine, settings.currency, self.directory, self.bridge, ceilings)
        self.app.state.admission = self.admission
        console.install(self.app)  # the operator console at /
        self._server: uvicorn.Server | None = None
        self._bridge_task: asyncio.Task | None = None
        self._bridge_thread: BridgeThread | None = None

    async def run(self, api: bool = True) -> None:
        """Serve until stop() (or, for the API, SIGINT/SIGTERM)."""
        # Two threads take the GIL in turn, the bridge's (which books batches) and the API's:
        # each hands it back sooner than the default 5 ms, so neither holds up the other's replies.
        sys.setswitchinterval(0.0005)
        self._bridge_thread = BridgeThread(self.bridge)
        self._bridge_task = asyncio.create_task(self._bridge_thread.run(), name="bridge")
        # Scheduled reports by e-mail (hub.reports.schedule): each due one is claimed by one hub.
        mail = MailSettings(self.settings.smtp, self.settings.mail_from)
        mailer = asyncio.create_task(
            report_schedule.run_forever(self.engine, mail, self.settings.currency), name="report-mail"
        )
        try:
            if api:
                config = uvicorn.Config(
                    self.app, host=self.settings.api_host, port=self.settings.api_port, log_level="warning"
                )
                self._server = uvicorn.Server(config)
                await self._server.serve()
            else:
                await self._bridge_task
        finally:
            self._bridge_task.cancel()
            mailer.cancel()
            await asyncio.gather(self._bridge_task, mailer, return_exceptions=True)
            self.engine.dispose()

    def stop(self) -> None:
        """Ask run() to finish: uvicorn closes its connections, then the bridge stops."""
        if self._server is not None:
            self._server.should_exit = True
        elif self._bridge_thread is not None:
            self._bridge_thread.stop()


def configure_logging(level: str = "INFO") -> None:
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)  # "Context impl ..." on every start
