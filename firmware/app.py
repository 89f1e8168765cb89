# Wires provisioning, board, MQTT client, link and controller together and
# keeps them alive. Importing this module must stay cheap: the board driver
# is imported only by main(), which only runs on a real board.
import asyncio
import gc

from firmware import hal
from firmware.controller import Controller
from firmware.hal import sleep_ms, ticks_diff, ticks_ms
from firmware.link import Link
from firmware.mqtt import MQTTClient
from protocol import const, topics
from protocol.ids import RequestIds
from protocol.signing import Signer

VERSION = "0.1.0"
_WATCHDOG_MS = const(30000)
_FEED_MS = const(1000)
_LINK_CHECK_MS = const(250)


class App:
    def __init__(self, cfg, board, on_result=None, **client_options):
        """client_options go to MQTTClient (open_connection, backoff_max_ms, ...)."""
        self.cfg = cfg
        self.board = board
        profile = cfg.profile
        self.link = Link(
            Signer(cfg.key),
            RequestIds(board.flash_dir + "/boots"),
            cfg.site,
            cfg.device,
            profile["reply_timeout_ms"],
            profile["retries"],
        )
        self.status_topic, offline = self.link.seal(topics.STATUS, {"state": "offline"})
        broker = cfg.broker
        opener = getattr(board, "open_connection", None)  # a board's own (hal_esp32)
        if opener is not None and "open_connection" not in client_options:
            client_options["open_connection"] = opener
        if broker["tls"]:
            client_options["ssl"] = tls_context(cfg.ca)
        self.client = MQTTClient(
            cfg.device,
            broker["host"],
            broker["port"],
            user=broker["user"],
            password=broker["password"],
            will=(self.status_topic, offline, 1, True),
            on_message=self.link.on_message,
            on_connect=self._on_connect,
            **client_options,
        )
        self.link.client = self.client
        self.link.on_command = self.on_command
        from firmware import profiles  # only now: it imports just this board's kind

        self.controller = Controller(
            board,
            self.link,
            profile,
            profiles.make(board, profile),
            board.flash_dir + "/reports.json",
            on_result,
        )
        self.tasks = []
        # Which version boot.py started (firmware/ota.py boot()): a slot's, or /lib's.
        self.boot_state = getattr(hal, "ota", None) or (None, None, None)
        self.fw = self.boot_state[1] or VERSION
        self.ota = None  # an update's session (firmware/ota.py): takes dn/fw

    async def _on_connect(self):
        await self.link.subscribe()
        _topic, online = self.link.seal(topics.STATUS, {"state": "online", "fw": self.fw})
        await self.client.publish(self.status_topic, online, 1, True)

    def on_command(self, topic, payload):
        if self.ota is not None and topic == self.ota.topic:
            self.ota.on_message(topic, payload)
            return
        from firmware import commands  # loaded for each command: they are rare

        try:
            commands.on_message(self, topic, payload)
        finally:  # a task it started (the ack) keeps what it needs until it ends
            commands = None
            hal.unload("firmware.commands", "protocol.manage", "firmware.config")

    async def _health_loop(self):
        """Health telemetry (protocol/manage.py) every profile.health_s, at QoS 0."""
        uptime_ms = 0
        last = ticks_ms()
        crash = None
        while True:
            # The first one a period after boot: "online" already tells the hub we are up.
            await sleep_ms(self.cfg.profile["health_s"] * 1000)
            await self.client.wait_connected()
            now = ticks_ms()
            # Summed in steps: one ticks_diff over days would overflow on MicroPython.
            uptime_ms += ticks_diff(now, last)
            last = now
            free = getattr(gc, "mem_free", None)  # MicroPython only
            if free:
                gc.collect()
            if crash is None:
                from firmware import faults  # once: what killed the app before this boot

                crash = faults.last(self.board.flash_dir) or ""
                faults = None
                hal.unload("firmware.faults")
            # Keys of more than 10 characters are not interned at import: the
            # heap target has room for only a few more interned names.
            topic, payload = self.link.seal(
                topics.HEALTH,
                {
                    "uptime_seconds": uptime_ms // 1000,
                    "free_heap_bytes": free() if free else None,  # MicroPython's heap
                    "heap_alloc_bytes": gc.mem_alloc() if free else None,
                    "reset_cause": self.board.reset_cause(),
                    "last_traceback": crash or None,
                    "rssi": self.board.rssi(),
                    "reconnects": self.client.reconnects,
                    "reader_resets": self.board.reader.resets,
                    "journal_depth": self.controller.pending_reports(),
                    "fw": self.fw,
                },
            )
            await self.client.publish(topic, payload)

    async def _watch_network(self):
        """Drop the MQTT link as soon as the network goes: on an ESP32 a socket whose Wi-Fi
        is gone stays open, silent, until keepalive gives up (45 s), and taps would wait on it
        instead of going offline at once."""
        while True:
            await sleep_ms(_LINK_CHECK_MS)
            if not self.board.network_up() and self.client.is_connected():
                print("tapgift: Wi-Fi lost; MQTT link dropped")
                self.client.drop()

    async def run(self):
        """Run until a task dies; then stop feeding the watchdog, which resets the board."""
        coros = self.board.tasks(self.cfg)
        coros.append(self._watch_network())
        coros.append(self.client.run())
        coros.append(self.controller.run())
        coros.append(self.controller.report_loop())
        coros.append(self._health_loop())
        try:  # network settings from a command, on trial (firmware/commands.py)
            open(self.board.flash_dir + "/network.trial").close()
            from firmware import commands

            coros.append(commands.network_trial(self))
            commands = None
            hal.unload("firmware.commands", "protocol.manage")
        except OSError:
            pass
        if self.boot_state[2]:  # a version on trial, or one given up (firmware/ota.py)
            from firmware import ota

            coros.append(ota.watch(self, self.boot_state))
        self.tasks = [asyncio.create_task(c) for c in coros]
        try:
            dead = await self._supervise(self.board.watchdog(_WATCHDOG_MS))
            await dead  # re-raises what killed it
            raise RuntimeError("a firmware task returned")
        finally:
            for task in self.tasks:
                task.cancel()
            hal.all_off(self.board.relays)

    def serve(self):
        """run() until it dies; what killed it is kept on flash (firmware/faults.py) and the
        board restarts at once with the relays off."""
        try:
            asyncio.run(self.run())
        except Exception as err:
            hal.all_off(self.board.relays)
            from firmware import faults

            faults.keep(err)
            self.board.reboot()
        finally:
            hal.all_off(self.board.relays)

    async def _supervise(self, watchdog):
        while True:
            for task in self.tasks:
                if task.done():
                    return task
            watchdog.feed()
            await sleep_ms(_FEED_MS)


def tls_context(ca):
    """A TLS client context that trusts only the CA of the provisioning file (PEM) and checks
    the broker's certificate and name."""
    import ssl

    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.verify_mode = ssl.CERT_REQUIRED
    try:
        ctx.load_verify_locations(cadata=ca)  # CPython
    except TypeError:
        ctx.load_verify_locations(ca)  # MicroPython: cadata is its one argument
    return ctx


def main():
    """On a board (main.py): firmware/faults.py keeps a mistake from leaving it at the REPL;
    it leaves the heap once the app is built, and loads again only to keep a crash."""
    from firmware import faults

    app = faults.build(App)
    faults = None
    hal.unload("firmware.faults")
    app.serve()
