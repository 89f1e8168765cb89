# What the ESP32 allows on each pin, as firmware/config.py checks it before a provisioning file
# leaves the computer and again on the board. Runs under CPython and under MicroPython.
from firmware import config

PROVISION = {
    "device": "t1",
    "site": "park",
    "key": "5a" * 32,
    "broker": "mqtt://h:1883",
    "wifi": {"ssid": "s", "password": ""},
}


def refused(pins, profile=None):
    data = dict(PROVISION)
    data["profile"] = profile or {}
    data["pins"] = pins
    try:
        config.from_dict(data)
    except config.ConfigError as e:
        return str(e)
    return None


def test_a_relay_never_sits_on_an_input_only_pin():
    for n in (34, 35, 36, 37, 38, 39):
        assert "input only" in refused({"relays": [n]}), n
    assert "input only" in refused({"relays": [26], "indicator": 35})
    assert "input only" in refused({"relays": [26], "buzzer": 36})
    assert "input only" in refused({"relays": [26], "reader": {"type": "mfrc522", "cs": 39}})
    # Inputs may use them (with an external pull-up).
    assert refused({"relays": [26], "sensor": 34, "button": 35}, {"kind": "turnstile"}) is None
    assert refused({"relays": [26], "reader": {"type": "mfrc522", "miso": 36}}) is None


def test_no_pin_on_the_flash_the_repl_or_a_gpio_the_chip_has_not():
    for n in (6, 7, 8, 9, 10, 11):
        assert "flash" in refused({"relays": [n]}), n
        assert "flash" in refused({"relays": [26], "sensor": n}, {"kind": "turnstile"}), n
    for n in (1, 3):
        assert "REPL" in refused({"relays": [n]}), n
        assert "REPL" in refused({"relays": [26], "reader": {"type": "qr_uart", "rx": n}}), n
    for n in (20, 24, 28, 31, 40, 48):
        assert "does not exist" in refused({"relays": [n]}), n


def test_a_relay_never_sits_on_a_strapping_pin_that_changes_the_boot():
    assert "strapping" in refused({"relays": [12]})
    assert "strapping" in refused({"relays": [0], "maintenance": None})
    assert "strapping" in refused({"relays": [26, 12]})
    assert refused({"relays": [25, 26, 27, 32, 33]}) is None


def test_a_board_with_psram_keeps_16_and_17_for_it():
    uart = {"type": "pn532_uart", "tx": 17, "rx": 16}
    assert refused({"relays": [26], "reader": uart}) is None
    assert "PSRAM" in refused({"relays": [26], "psram": True, "reader": uart})
    assert (
        refused({"relays": [26], "psram": True, "reader": dict(uart, tx=25, rx=27), "indicator": 2}) is None
    )
    assert "psram" in refused({"relays": [26], "psram": "yes"})


def test_the_defaults_pass():
    cfg = config.from_dict(dict(PROVISION))
    assert cfg.pins["relays"] == [26] and cfg.pins["psram"] is False
