# Runs first on every power-up and soft reset. Before anything else every
# relay pin is driven to its "off" level; then the maintenance switch (a pin
# held low, or a /maintenance flag file) decides whether main.py starts the
# app. This file imports nothing of ours until the relays are safe, so a
# broken /lib or provisioning file cannot leave a relay on.
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


def boot():
    pins = read_pins(PROVISION)
    relays_off(pins)
    maintenance = maintenance_requested(pins, FLAG)
    import firmware.hal

    firmware.hal.maintenance = maintenance
    if maintenance:
        print("tapgift: maintenance mode, app not started, no watchdog")


boot()
