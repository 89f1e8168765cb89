# What a board does when it cannot start or when the app dies, so that no mistake
# leaves it dead at the REPL with a relay on, and the hub hears what went wrong.
#
#   build(App)   firmware.app.main on a board: start(), then the App; this module is
#                dropped while the app runs, and what kills the app is kept (keep) and
#                the board restarts at once with the relays off (App.serve)
#   start()      the provisioning file and the board, tried again until both come up;
#                meanwhile the relays stay off (boot.py switched them off) and each
#                failure is shown: on the console, and by the board's fault() (the
#                indicator LED blinking the error pattern while it waits)
#   keep(err)    the traceback of what killed the app (or kept it from starting), on
#                flash in CRASH_FILE; the next boot's health telemetry carries it
#   last()       that traceback (its last CRASH_MAX characters), or None
#   tell_hub()   a retained status with the reason a board cannot start, on the broker,
#                when the provisioning file's identity and broker (and the Wi-Fi) work
import sys

from protocol.ids import write_atomic

CRASH_FILE = "/crash.txt"
CRASH_MAX = 300  # characters of a traceback in health telemetry (its end: where it broke)
TRIAL_ATTEMPTS = 2  # attempts an update on trial gets to start before the board restarts


def build(App):
    """firmware.app.main's start: the provisioning file and the board (start()), then the
    App; what only start-up needed is dropped (started()). A mistake in building the App is
    kept and the board restarts with the relays off."""
    from firmware import hal, hal_esp32

    cfg, board = start(load_config, hal_esp32.Board, board_fault)
    try:
        app = App(cfg, board)
    except Exception as err:
        hal.all_off(board.relays)
        keep(err)
        board.reboot()
        raise
    cfg = None
    started()
    return app


def start(load, make_board, fault, flash=""):
    """(cfg, board) once load() and make_board(cfg.pins) both work; each failure before
    that goes to fault(err, attempt), which waits before the next attempt."""
    attempt = 0
    while True:
        try:
            cfg = load()
            return cfg, make_board(cfg.pins)
        except Exception as err:  # a bad file, a missing peripheral: never the REPL
            attempt += 1
            print("tapgift: cannot start (attempt %d): %s: %s" % (attempt, type(err).__name__, err))
            print("tapgift: relays off; fix /provision.json with mpremote, trying again")
            keep(err, flash)
            if attempt >= TRIAL_ATTEMPTS and on_trial():
                # An update on trial that cannot start: restart, so boot.py counts the boot
                # and gives the update up after a few (firmware/ota.py).
                print("tapgift: the update on trial cannot start: restarting")
                import machine

                machine.reset()
            fault(err, attempt)


def board_fault(err, attempt):
    """The ESP32's fault() (firmware/esp32_setup.py): loaded only when a board cannot start."""
    from firmware import esp32_setup

    esp32_setup.fault(err, attempt)


def on_trial():
    """Whether boot.py started an update on trial (firmware/ota.py)."""
    from firmware import hal

    state = getattr(hal, "ota", None)
    return bool(state) and state[2] == "trial"


class Settings:
    """The provisioning file's settings as the app holds them: a config.Config would keep
    all of firmware/config.py alive through its class, and started() could not drop it."""


def load_config():
    from firmware import config

    loaded = config.load()
    settings = Settings()
    for name in ("device", "site", "key", "broker", "wifi", "profile", "pins", "ca"):
        setattr(settings, name, getattr(loaded, name))
    loaded = config = None
    started()  # the checks leave the heap before the board is built
    return settings


def started():
    """The app is built: what only start-up needed leaves the heap (firmware/config.py's
    checks are about 20 KB of it; a config command loads them again)."""
    import gc

    import firmware

    sys.modules.pop("firmware.config", None)
    firmware.__dict__.pop("config", None)
    gc.collect()


async def tell_hub(reason, path="/provision.json", network=None, timeout_ms=15000, **client_options):
    """Publish a retained, signed status {"state": "offline", "fault": reason} with the parts
    of the provisioning file that work (device, site, key, broker), so that whoever watches
    the broker sees why a board does not start. network(wifi): how the board gets on its
    Wi-Fi first (hal_esp32), or None. True when the broker took it."""
    import asyncio
    import json

    from firmware import config
    from firmware.hal import wait_for_ms
    from firmware.mqtt import MQTTClient
    from protocol import messages, topics
    from protocol.signing import Signer

    try:
        with open(path) as f:
            data = json.loads(f.read())
        device = data["device"]
        broker = config.parse_broker(data["broker"])
        topic = topics.up(data["site"], device, topics.STATUS)
        body = messages.encode({"state": "offline", "fault": str(reason)[:200]})
        payload = Signer(data["key"]).seal(topic, body)
        if broker["tls"]:
            from firmware.app import tls_context

            client_options["ssl"] = tls_context(data["ca"])
    except Exception:
        return False  # not even that much works: the console and the LED tell it
    try:
        if network is not None:
            await network(data.get("wifi") or {})
        client = MQTTClient(
            device,
            broker["host"],
            broker["port"],
            user=broker["user"],
            password=broker["password"],
            **client_options,
        )
    except Exception:
        return False
    running = asyncio.create_task(client.run())
    try:
        await wait_for_ms(client.wait_connected(), timeout_ms)
        await wait_for_ms(client.publish(topic, payload, 1, True), timeout_ms)
        return True
    except Exception:
        return False
    finally:
        try:
            await wait_for_ms(client.disconnect(), 2000)
        except Exception:
            pass
        running.cancel()


def keep(err, flash=""):
    """Write err's traceback to flash (CRASH_FILE); never raises."""
    try:
        write_atomic(flash + CRASH_FILE, traceback(err)[-CRASH_MAX:])
    except Exception:
        pass  # a full or broken flash must not hide the first error


def traceback(err):
    print_exception = getattr(sys, "print_exception", None)  # MicroPython
    if print_exception is not None:
        import io

        buf = io.StringIO()
        print_exception(err, buf)
        return buf.getvalue()
    import traceback as tb  # CPython (the HIL)

    return "".join(tb.format_exception(type(err), err, err.__traceback__))


def last(flash=""):
    try:
        with open(flash + CRASH_FILE) as f:
            return f.read()[-CRASH_MAX:] or None
    except OSError:
        return None
