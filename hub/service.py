"""The hub process: database, MQTT bridge and REST API on one event loop."""
from __future__ import annotations

import asyncio
import logging

import uvicorn

from hub.api import create_app
from hub.authorize import Authorizer
from hub.bridge import Bridge
from hub.db import make_engine
from hub.devices import DeviceDirectory
from hub.settings import Settings


class Hub:
    def __init__(self, settings: Settings):
        self.settings = settings
        self.engine = make_engine(settings.db)
        self.directory = DeviceDirectory(self.engine)
        self.authorizer = Authorizer(self.engine, hold_ttl_s=settings.hold_ttl_s)
        self.bridge = Bridge(settings.mqtt, self.directory, self.authorizer,
                             client_id=settings.client_id, share_group=settings.share_group,
                             batch_max=settings.batch_max,
                             sweep_interval_s=settings.sweep_interval_s)
        self.app = create_app(self.engine, settings.currency, self.directory, self.bridge)

    async def run(self, api: bool = True) -> None:
        tasks = [asyncio.create_task(self.bridge.run(), name="bridge")]
        if api:
            config = uvicorn.Config(self.app, host=self.settings.api_host,
                                    port=self.settings.api_port, log_level="warning")
            server = uvicorn.Server(config)
            tasks.append(asyncio.create_task(server.serve(), name="api"))
        try:
            await asyncio.gather(*tasks)
        finally:
            for task in tasks:
                task.cancel()
            self.engine.dispose()


def configure_logging(level: str = "INFO") -> None:
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
