# Wires provisioning, board, MQTT client, link and controller together and
# keeps them alive. Importing this module must stay cheap: the board driver
# is imported only by main(), which only runs on a real board.
import asyncio

from protocol import const, topics
from protocol.ids import RequestIds
from protocol.signing import Signer
from firmware import hal
from firmware.controller import Controller
from firmware.link import Link
from firmware.mqtt import MQTTClient

VERSION = "0.1.0"
_WATCHDOG_MS = const(30000)
_FEED_MS = const(1000)


class App:
    def __init__(self, cfg, board, on_result=None, **client_options):
        """client_options go to MQTTClient (open_connection, backoff_max_ms, ...)."""
        self.cfg = cfg
        self.board = board
        profile = cfg.profile
        self.link = Link(Signer(cfg.key), RequestIds(board.flash_dir + "/boots"),
                         cfg.site, cfg.device, profile["reply_timeout_ms"], profile["retries"])
        self.status_topic, offline = self.link.seal(topics.STATUS, {"state": "offline"})
        broker = cfg.broker
        self.client = MQTTClient(cfg.device, broker["host"], broker["port"],
                                 user=broker["user"], password=broker["password"],
                                 will=(self.status_topic, offline, 1, True),
                                 on_message=self.link.on_message, on_connect=self._on_connect,
                                 **client_options)
        self.link.client = self.client
        from firmware import profiles  # only now: it imports just this board's kind

        self.controller = Controller(board, self.link, profile, profiles.make(board, profile),
                                     board.flash_dir + "/reports.json", on_result)
        self.tasks = []

    async def _on_connect(self):
        await self.link.subscribe()
        _topic, online = self.link.seal(topics.STATUS, {"state": "online", "fw": VERSION})
        await self.client.publish(self.status_topic, online, 1, True)

    async def run(self):
        """Run until a task dies; then stop feeding the watchdog, which resets the board."""
        coros = self.board.tasks(self.cfg)
        coros.append(self.client.run())
        coros.append(self.controller.run())
        coros.append(self.controller.report_loop())
        self.tasks = [asyncio.create_task(c) for c in coros]
        try:
            dead = await self._supervise(self.board.watchdog(_WATCHDOG_MS))
            await dead  # re-raises what killed it
            raise RuntimeError("a firmware task returned")
        finally:
            for task in self.tasks:
                task.cancel()
            hal.all_off(self.board.relays)

    async def _supervise(self, watchdog):
        while True:
            for task in self.tasks:
                if task.done():
                    return task
            watchdog.feed()
            await hal.sleep_ms(_FEED_MS)


def main():
    from firmware import config
    from firmware import hal_esp32

    cfg = config.load()
    board = hal_esp32.Board(cfg.pins)
    try:
        asyncio.run(App(cfg, board).run())
    finally:
        hal.all_off(board.relays)
