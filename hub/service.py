"""The hub process: database, MQTT bridge and REST API on one event loop."""

from __future__ import annotations

import asyncio
import logging
import sys

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

    async def run(self, api: bool = True) -> None:
        """Serve until stop() (or, for the API, SIGINT/SIGTERM)."""
        # Batches are booked in a worker thread; hand the GIL back to the
        # event loop sooner than the default 5 ms so replies are not held up.
        sys.setswitchinterval(0.0005)
        self._bridge_task = asyncio.create_task(self.bridge.run(), name="bridge")
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
        elif self._bridge_task is not None:
            self._bridge_task.cancel()


def configure_logging(level: str = "INFO") -> None:
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)  # "Context impl ..." on every start
