"""One simulated controller: the real firmware (app, controller, link, MQTT
client) on a simulated board, against a real broker.

Faults are physical: a power cut kills the tasks and the TCP connection
without a DISCONNECT (the broker publishes the last will), the flash folder
survives it; a network outage resets the connection and refuses new ones.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import os
import sys

from firmware import config, faults, hal, ota
from firmware.app import App
from firmware.hal_sim import SimBoard, hanging_reader

# Reconnect quickly in simulation: tests and fleets wait on it.
CLIENT_OPTIONS = {"backoff_min_ms": 50, "backoff_max_ms": 1000}


def _broker_url(host, port, credentials, tls=False):
    """The provisioning file's broker URL; credentials = (MQTT username, password) or None."""
    login = "%s:%s@" % credentials if credentials else ""
    return "%s://%s%s:%d" % ("mqtts" if tls else "mqtt", login, host, port)


class SimDevice:
    """profile: overrides of the kind's profile defaults (firmware.config); pins: overrides of
    DEFAULT_PINS (e.g. a turnstile needs "sensor"); on_result(card, outcome, code, rtt_ms) is
    called like the controller's hook; results are also kept in .results. The simulated inputs
    (board.sensor, board.button), the display and the indicator's log are reached through .board.

    Faults: reader="hanging" puts the real reader health loop on a chip that
    board.reader.hang() makes stop answering; wdt_ms makes the watchdog real (it
    reboots the board when the firmware stops feeding it for that long)."""

    def __init__(
        self,
        device_id,
        site,
        key_hex,
        host,
        port,
        flash_dir,
        profile=None,
        on_result=None,
        pins=None,
        credentials=None,
        reader=None,
        wdt_ms=None,
        ca=None,
    ):
        os.makedirs(flash_dir, exist_ok=True)
        provisioning = {
            "device": device_id,
            "site": site,
            "key": key_hex,
            "broker": _broker_url(host, port, credentials, tls=ca is not None),
            "wifi": {"ssid": "sim", "password": ""},
            "profile": profile or {},
            "pins": pins or {},
        }
        if ca is not None:  # TLS to the broker (mqtts://), trusting this CA (PEM)
            provisioning["ca"] = ca
        self.cfg = config.from_dict(provisioning)
        # What the technician's flashing leaves on the board; the hub's config
        # commands rewrite it, and every boot reads it (as firmware.app.main does).
        self._provisioning = flash_dir + config.PATH
        with open(self._provisioning, "w") as f:
            json.dump(provisioning, f)
        self.board = SimBoard(
            flash_dir, len(self.cfg.pins["relays"]), hanging_reader() if reader == "hanging" else None
        )
        self.board.wdt_ms = wdt_ms
        self.board.on_reboot = self._reboot
        self._rebooting = None
        self.on_result = on_result
        self.results = []  # (card, outcome, code, rtt_ms)
        self.app = None
        self._task = None
        self._writers = []
        self._online = True
        self._new_result = asyncio.Event()
        self._swapped = None  # (slot folder, the firmware modules it replaced): see _load_version

    @property
    def id(self):
        return self.cfg.device

    @property
    def boot(self):
        """The boot counter of the running firmware (from flash)."""
        return self.app.link.ids.boot

    @property
    def timeline(self):
        return self.board.timeline

    @property
    def counters(self):
        return self.app.controller.counters

    def pulses(self, relay=0):
        return self.board.pulses(relay)

    def tap(self, uid, sun=None):
        """A card on the reader; sun: the NTAG 424 SUN data it gives with it."""
        self.board.reader.inject(uid, sun)

    async def start(self):
        hal.all_off(self.board.relays)  # what boot.py does first
        self._restore_modules()
        # Then, as boot.py: which version starts (firmware/ota.py), the flashed one's or an update's.
        state = ota.boot(self.board.flash_dir)
        self.cfg = config.load(self._provisioning)
        app_class, board_hal = App, hal
        if state[0]:
            try:
                app_class, board_hal = self._load_version(state[0])
            except Exception as err:  # an update that does not load: main.py restarts the board
                faults.keep(err, self.board.flash_dir)
                self._restore_modules()
                self.board.reboot()
                return
        board_hal.ota = state
        try:
            self.app = app_class(
                self.cfg,
                self.board,
                on_result=self._record,
                open_connection=self._open_connection,
                **CLIENT_OPTIONS,
            )
        finally:
            board_hal.ota = None  # the modules are shared by every simulated device
        self._task = asyncio.create_task(self._run(self.app))

    def _load_version(self, folder):
        """An update's firmware package from its slot (source modules, under CPython): its
        modules take the place of the repository's in sys.modules until the power goes, so its
        own imports, lazy ones too, load its own code. The protocol package stays the repository's.
        Only one simulated device per process may run an update at a time."""
        saved = {
            name: sys.modules.pop(name) for name in list(sys.modules) if name.split(".")[0] == "firmware"
        }
        sys.path.insert(0, folder)
        self._swapped = (folder, saved)
        importlib.invalidate_caches()
        return importlib.import_module("firmware.app").App, importlib.import_module("firmware.hal")

    def _restore_modules(self):
        if self._swapped is None:
            return
        folder, saved = self._swapped
        self._swapped = None
        for name in [name for name in sys.modules if name.split(".")[0] == "firmware"]:
            del sys.modules[name]
        sys.modules.update(saved)
        sys.path.remove(folder)

    @property
    def fw(self):
        """The version the running firmware reports."""
        return self.app.fw

    async def _run(self, app):
        """The app, as firmware.app.main runs it: what kills it is kept on flash for the next
        boot's health telemetry (the simulated watchdog then reboots the board; an update's app
        restarts the board at once, as firmware.app.App.serve does)."""
        try:
            await app.run()
        except Exception as err:
            faults.keep(err, self.board.flash_dir)
            if self._swapped is not None:
                self.board.reboot()
            raise

    async def wait_connected(self, timeout=10.0):
        """Connected, subscribed to replies and "online" published. After a reboot (the
        watchdog, a command) that counts for the app started anew, not the one it replaces."""
        if self._rebooting is not None:
            await asyncio.wait_for(asyncio.shield(self._rebooting), timeout)
        await asyncio.wait_for(self.app.client.wait_connected(), timeout)

    async def wait_results(self, n, timeout=10.0):
        """Wait until n results (over the device's lifetime) have arrived."""

        async def reach():
            while len(self.results) < n:
                self._new_result.clear()
                await self._new_result.wait()

        await asyncio.wait_for(reach(), timeout)
        return self.results[n - 1]

    async def power_cut(self):
        if self._task is None:
            return  # already off
        self._kill_connections()
        tasks = [self._task] + self.app.tasks
        self._task = None
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self.board.power_off()
        self._restore_modules()

    async def stop(self):
        """End of the simulation: a power cut (the last will marks the device offline)."""
        await self.power_cut()

    async def power_on(self):
        await self.start()

    def erase_flash(self):
        """What a replaced board, or esptool erase_flash and a new fw flash, leaves on the
        flash: the provisioning file and nothing else (no boot counter, journal, deny list).
        Call it while the power is off."""
        keep = os.path.basename(self._provisioning)
        for name in os.listdir(self.board.flash_dir):
            path = os.path.join(self.board.flash_dir, name)
            if name != keep and os.path.isfile(path):
                os.remove(path)

    def _reboot(self):
        """board.reboot() (a reboot command): the app starts afresh, as after a power cut."""

        async def restart():
            await self.power_cut()
            await self.start()

        self._rebooting = asyncio.create_task(restart())

    def network_down(self):
        self._online = False
        self._kill_connections()

    def network_up(self):
        self._online = True
        self.board.wifi = True

    def wifi_lost(self):
        """The Wi-Fi goes as it does on an ESP32: the board knows (network_up() is False),
        but the open TCP connection neither closes nor hears anything more: nothing is read
        from it and no new connection opens, until wifi_back()."""
        self._online = False
        self.board.wifi = False
        for writer in self._writers:
            writer.transport.pause_reading()

    def wifi_back(self):
        self.network_up()

    def _record(self, card, outcome, code, rtt_ms):
        self.results.append((card, outcome, code, rtt_ms))
        self._new_result.set()
        if self.on_result is not None:
            self.on_result(card, outcome, code, rtt_ms)

    async def _open_connection(self, host, port, ssl=None):
        if not self._online:
            raise OSError("network down (simulated)")
        reader, writer = await asyncio.open_connection(host, port, ssl=ssl)
        self._writers = [w for w in self._writers if not w.is_closing()]
        self._writers.append(writer)
        return reader, writer

    def _kill_connections(self):
        for writer in self._writers:
            writer.transport.abort()
        self._writers = []
