# Runs first on every power-up and soft reset. Before anything else every
# relay pin is driven to its "off" level; then the maintenance switch (a pin
# held low, or a /maintenance flag file) decides whether main.py starts the
# app. This file imports nothing of ours until the relays are safe, so a
# broken /lib or provisioning file cannot leave a relay on. Then firmware/ota.py
# says which version starts: /lib's, or an update's (kept, or on trial).
import json
import os

import machine

PROVISION = "/provision.json"
FLAG = "/maintenance"
# Keep in step with firmware.config.DEFAULT_PINS.
DEFAULT_RELAYS = [26]
DEFAULT_MAINTENANCE_PIN = 0  # the BOOT button on most ESP32 boards


def read_pins(path):
    try:
        with open(path) as f:
            pins = json.loads(f.read())["pins"]
    except Exception:
        return {}
    return pins if isinstance(pins, dict) else {}


def relays_off(pins):
    relays = pins.get("relays")
    if not isinstance(relays, list) or not relays:
        relays = DEFAULT_RELAYS
    off = 1 if pins.get("relay_active_low") is True else 0
    for number in relays:
        if not isinstance(number, int) or 6 <= number <= 11 or number in (1, 3):
            continue  # the flash or the console: driving those would stop the board
        try:
            # value= is applied before the pin becomes an output: no glitch.
            machine.Pin(number, machine.Pin.OUT, value=off)
        except Exception:
            pass  # one bad pin number must not leave the others on


def maintenance_requested(pins, flag):
    try:
        os.stat(flag)
        return True
    except OSError:
        pass
    number = pins.get("maintenance", DEFAULT_MAINTENANCE_PIN)
    if number is None:
        return False
    try:
        return machine.Pin(number, machine.Pin.IN, machine.Pin.PULL_UP).value() == 0
    except Exception:
        return False


def choose_version():
    """An update's version first on the import path, when one is staged or kept
    (firmware/ota.py; /lib's copy decides). The modules that decided are dropped, so
    the chosen version's own load next."""
    import sys

    state = (None, None, None)
    try:
        from firmware import ota

        state = ota.boot()
    except Exception as err:  # a broken /ota must not keep the flashed version from starting
        print("tapgift: update check failed:", err)
    for name in list(sys.modules):
        if name.split(".")[0] in ("firmware", "protocol"):
            del sys.modules[name]
    import gc

    gc.collect()
    if state[0]:
        sys.path.insert(0, state[0])
        print("tapgift: firmware", state[1], "(on trial)" if state[2] == "trial" else "")
    return state


def boot():
    pins = read_pins(PROVISION)
    relays_off(pins)
    maintenance = maintenance_requested(pins, FLAG)
    state = (None, None, None) if maintenance else choose_version()
    try:
        import firmware.hal
    except Exception:
        if state[2] == "trial":
            machine.reset()  # a version on trial that does not load: the next boot counts it
        raise
    firmware.hal.maintenance = maintenance
    firmware.hal.ota = state
    if maintenance:
        print("tapgift: maintenance mode, app not started, no watchdog")


boot()
