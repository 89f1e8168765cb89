# Hardware abstraction: the firmware talks to a "board" object and never to
# `machine` directly, so the same modules run on an ESP32 (hal_esp32) and
# under CPython in the HIL suite (hal_sim). A board provides:
#
#   board.relays        list of relays; relay.on(), relay.off(), relay.value() -> bool
#   board.reader        card reader; `async read()` -> the next card (see firmware/readers)
#   board.indicator     indicator.signal(kind), kind one of GRANT, DENY, ERROR, WARN
#                       (WARN: a session ends soon; the LED and the buzzer, if fitted)
#   board.sensor        pulse input (flow/coin meter, turnstile passage), or None:
#                       sensor.count   pulses counted since boot (counted by IRQ)
#                       await sensor.wait()   returns once a pulse came after the
#                       last wait() returned (it may return at once; re-check count)
#                       sensor.clear() forgets pulses for wait(), not for count
#   board.button        the same kind of input for a push button (billiard "release"), or None
#   board.display       a 2-line text display (a kiosk's balance), or None, in which
#                       case the indicator's LED and buzzer are all there is:
#                       display.show(line1, line2) replaces what it shows
#   board.flash_dir     folder on flash for small state files (boot counter, report journal)
#   board.watchdog(ms)  start the watchdog; returns an object with feed()
#   board.tasks(cfg)    coroutines the board needs running (e.g. keeping Wi-Fi up); they never return
#   board.rssi()        Wi-Fi signal strength in dBm, or None when not connected
#   board.network_up()  False when the board knows its network is gone (Wi-Fi lost)
#   board.open_connection(host, port)   optional: how the MQTT client reaches the broker
#                       (hal_esp32: the name resolved once, a failed connect's socket closed)
#   board.reboot()      restart the board (the app starts again from boot.py)
#   board.reset_cause() why the board last started: "power_on", "hard" (the reset
#                       button), "watchdog", "deep_sleep", "soft" (a reboot command,
#                       a crash) or "unknown"
#
# A board module is chosen by the caller: firmware.app imports hal_esp32
# lazily and only on a board; the HIL passes a hal_sim board in.
#
# The clock differs as well: MicroPython has wrapping millisecond ticks and
# asyncio.sleep_ms/wait_for_ms; on CPython the same names come from
# firmware/hal_cpython.py (a board never loads it: its code would cost heap).
import asyncio
import time

try:
    ticks_ms = time.ticks_ms
    ticks_diff = time.ticks_diff
    sleep_ms = asyncio.sleep_ms
    wait_for_ms = asyncio.wait_for_ms
except AttributeError:  # CPython (the HIL suite): the same four on asyncio's clock
    from firmware.hal_cpython import sleep_ms, ticks_diff, ticks_ms, wait_for_ms  # noqa: F401


GRANT = "grant"
DENY = "deny"
ERROR = "error"
WARN = "warn"

# Set by boot.py, read by main.py (both run in one interpreter, and a module
# in sys.modules outlives the boot script).
maintenance = False


def all_off(relays):
    for relay in relays:
        relay.off()


def unload(*names):
    """Drop modules a rare job loaded (a command, start-up) so their bytecode leaves the
    heap once nothing of theirs runs; the next import loads them again. MicroPython only:
    under CPython the HIL's hub shares protocol/, and tests set these modules' settings."""
    import sys

    if sys.implementation.name != "micropython":
        return
    import gc

    for name in names:
        sys.modules.pop(name, None)
        package, _, attr = name.rpartition(".")
        parent = sys.modules.get(package)
        if parent is not None:
            parent.__dict__.pop(attr, None)
    gc.collect()
