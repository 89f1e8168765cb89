# The running app's heap, as a board runs it: run by runner.mjs ("run") under the real
# MicroPython interpreter, against the sources or a build (.mpy). Not firmware: it stands in
# for the ESP32 port's `machine` and `network` (chips that answer nothing, Wi-Fi that is up,
# a broker that cannot be reached) so that firmware.app.App starts with everything a board's
# main() loads: the config, the ESP32 board (hal_esp32) and its reader driver, the profile,
# the MQTT client, the commands module; then a 256-card deny list is on flash and loaded, and
# one tap's journal writes (before the relay moves, and the delivery) are made.
#
# runner.mjs sets the global _TG_ARGS (a JSON object) and then calls main():
# {"kind": "dispenser", "reader": "mfrc522"}. It prints one JSON line: the heap in use after
# each step (heap_bytes), after the tap (heap_running) and the largest of them (heap_peak).
import asyncio
import json
import sys

ARGS = json.loads(_TG_ARGS)  # noqa: F821  (set by the runner)


class _Bus:
    """An SPI, I2C or UART whose chip answers nothing (all zeros, no data)."""

    def __init__(self, *args, **kwargs):
        pass

    def write(self, data):
        return len(data)

    def write_readinto(self, out, into):
        pass

    def readinto(self, into, *args):
        return 0

    def read(self, n=-1):
        return None

    def any(self):
        return 0

    def writeto(self, addr, data, stop=True):
        return len(data)

    def readfrom_into(self, addr, into, stop=True):
        pass

    def readfrom(self, addr, n, stop=True):
        return bytes(n)

    def init(self, *args, **kwargs):
        pass


class _Pin:
    IN = 1
    OUT = 3
    PULL_UP = 2
    IRQ_FALLING = 2

    def __init__(self, number, mode=None, pull=None, value=None):
        self._level = value or 0

    def value(self, level=None):
        if level is None:
            return self._level
        self._level = level

    def irq(self, handler=None, trigger=3, wake=None):
        pass


class _WDT:
    def __init__(self, timeout=0):
        pass

    def feed(self):
        pass


class _Timer:
    ONE_SHOT = 0

    def __init__(self, index):
        pass

    def init(self, mode=1, period=-1, callback=None, hard=False):
        if hard:
            raise ValueError("soft timers only")


class _Machine:
    Pin = _Pin
    SPI = _Bus
    I2C = _Bus
    UART = _Bus
    WDT = _WDT
    Timer = _Timer
    PWRON_RESET = 1

    @staticmethod
    def reset_cause():
        return 1

    @staticmethod
    def reset():
        raise SystemExit


class _WLAN:
    def __init__(self, interface=0):
        pass

    def active(self, on=None):
        return True

    def isconnected(self):
        return True

    def connect(self, ssid, password):
        pass

    def status(self, name=None):
        return -60 if name == "rssi" else 1010

    def config(self, *args, **kwargs):
        pass


class _Network:
    STA_IF = 0
    WLAN = _WLAN


class _ThreadSafeFlag:
    """The ESP32 port's asyncio.ThreadSafeFlag (the WebAssembly port has no IRQs)."""

    def __init__(self):
        self._event = asyncio.Event()

    def set(self):
        self._event.set()

    def clear(self):
        self._event.clear()

    async def wait(self):
        await self._event.wait()
        self._event.clear()


sys.modules["machine"] = _Machine()
sys.modules["network"] = _Network()
if not hasattr(asyncio, "ThreadSafeFlag"):
    asyncio.ThreadSafeFlag = _ThreadSafeFlag

PROVISION = {
    "device": "footprint-1",
    "site": "park",
    "key": "5a" * 32,
    "broker": "mqtt://footprint-1:0123456789abcdef0123456789abcdef@10.0.0.2:1883",
    "wifi": {"ssid": "park", "password": "secret"},
}
_KIND_PINS = {
    "turnstile": {"sensor": 34},
    "kiosk": {"sensor": 34, "display": {"i2c": 1, "scl": 32, "sda": 33, "addr": 39}},
    "billiard": {"button": 13, "buzzer": 4},
}


async def _no_broker(host, port):
    raise OSError(113)  # EHOSTUNREACH: the broker cannot be reached


def _deny_list(path, n):
    # As firmware.commands writes it (firmware.controller.DenyList), a card at a time: no
    # big string of ours stays about to be counted.
    with open(path, "w") as f:
        f.write(",")
        for i in range(n):
            f.write("04%08X," % (0xA1000000 + i))


def _provision():
    data = dict(PROVISION)
    data["profile"] = {"kind": ARGS["kind"]}
    pins = dict(_KIND_PINS.get(ARGS["kind"], {}))
    pins["reader"] = {"type": ARGS["reader"]}
    data["pins"] = pins
    with open("/provision.json", "w") as f:
        f.write(json.dumps(data))


# Each step runs in a runPython call of its own and the heap is measured after it (runner.mjs).
STEPS = (
    ["base", "modules"]
    if "modules" in ARGS
    else ["base", "modules", "config", "board", "app", "start", "command", "tap"]
)
_S = {}


def base():
    if "modules" in ARGS:
        return  # imports(): nothing on flash needed
    _provision()
    _deny_list("/deny.txt", ARGS.get("deny", 256))  # on flash already: the hub sent it before


def modules():
    if "modules" in ARGS:  # imports(): only these
        for name in ARGS["modules"]:
            __import__(name)
        return
    from firmware import app, faults, hal_esp32

    _S["app"], _S["faults"], _S["hal_esp32"] = app, faults, hal_esp32


def config():
    _S["cfg"] = _S["faults"].load_config()


def board():
    _S["board"] = _S["hal_esp32"].Board(_S["cfg"].pins)


def app():
    """As firmware.faults.build and firmware.app.main: the App built, then what only start-up
    needed dropped (firmware/config.py, then firmware/faults.py)."""
    _S["a"] = _S["app"].App(_S["cfg"], _S["board"], open_connection=_no_broker)
    del _S["cfg"], _S["board"]
    _S["faults"].started()
    del _S["faults"]
    from firmware import hal

    hal.unload("firmware.faults")


def start():
    # The tasks App.run() starts, as coroutines (not run: the WebAssembly port cannot run the
    # ESP32's event loop).
    a = _S["a"]
    coros = a.board.tasks(a.cfg) + [a.client.run(), a.controller.run(), a.controller.report_loop()]
    coros.append(a._health_loop())
    coros.append(a._watch_network())
    _S["coros"] = coros


def command():
    # While the hub's command is applied: the commands module and protocol.manage loaded, as
    # App.on_command loads them (and drops them after, firmware.hal.unload).
    from firmware import commands
    from protocol import manage

    _S["command"] = commands, manage
    # Every module loaded at once, here (firmware/config.py was dropped before): the code
    # part of the peak, which a firmware image with the modules frozen keeps off the heap.
    _S["modules"] = sorted(m for m in sys.modules if m.startswith(("firmware", "protocol")))


def tap():
    # The command applied (its modules dropped); then one tap's journal writes: before the
    # relay moves, and the delivery.
    del _S["command"]
    from firmware import hal

    hal.unload("firmware.commands", "protocol.manage")
    ctl = _S["a"].controller
    ctl.add("report", {"hold": "h-0123456789abcdef0123", "delivered": 0}, units=1, open=True)
    ctl.report("h-0123456789abcdef0123", 1)


def imports():
    """The heap that importing ARGS["modules"] keeps (its bytecode, mostly): what a firmware
    image with the modules frozen into flash does not put on the heap. (STEPS is empty then:
    base and modules are measured as steps of their own.)"""
    print(json.dumps({"heap_imports": _tg_heap["modules"] - _tg_heap["base"]}))  # noqa: F821


def main():
    """Report the figures runner.mjs measured after each step: heap in use (after a collection)
    above what the interpreter held before the first module was imported."""
    if "modules" in ARGS:
        return imports()
    heap = _tg_heap  # noqa: F821  (set by the runner)
    base_bytes = heap["base"]
    steps = {}
    peak = 0
    for name in STEPS[1:]:
        steps[name] = heap[name] - base_bytes
        peak = max(peak, steps[name])
    print(
        json.dumps(
            {
                "kind": ARGS["kind"],
                "reader": ARGS["reader"],
                "deny_list": len(_S["a"].controller.deny),
                "heap_bytes": steps,
                "heap_running": steps["tap"],
                "heap_peak": peak,
                "heap_before": base_bytes,
                "modules": _S["modules"],
                "micropython": sys.version,
            }
        )
    )
    for c in _S["coros"]:
        c.close()
