# A board that cannot start (a bad provisioning file, a peripheral that does not answer) is
# never left at the REPL: firmware/faults.py shows the error, keeps it for the hub and tries
# again until the file is fixed. Runs under CPython and under MicroPython.
import os

from firmware import config, faults

FLASH = "/tmp/tapgift-faults"


def _fresh():
    try:
        os.mkdir(FLASH)
    except OSError:
        pass
    try:
        os.remove(FLASH + faults.CRASH_FILE)
    except OSError:
        pass


class Cfg:
    pins = {"relays": [26]}


def test_start_retries_a_bad_file_and_a_dead_peripheral_until_both_work():
    _fresh()
    files = [config.ConfigError("provision.json is not valid JSON"), None, None]
    boards = [OSError(19), "the board"]
    shown = []

    def load():
        bad = files.pop(0)
        if bad is not None:
            raise bad
        return Cfg()

    def make_board(pins):
        assert pins == {"relays": [26]}
        result = boards.pop(0)
        if isinstance(result, Exception):
            raise result
        return result

    def fault(err, attempt):
        shown.append((type(err).__name__, attempt))

    cfg, board = faults.start(load, make_board, fault, FLASH)
    assert board == "the board" and isinstance(cfg, Cfg)
    assert shown == [("ConfigError", 1), ("OSError", 2)]
    kept = faults.last(FLASH)
    assert "OSError" in kept and len(kept) <= faults.CRASH_MAX


def test_keep_and_last_hold_the_end_of_the_traceback():
    _fresh()
    assert faults.last(FLASH) is None

    def deep(n):
        if n:
            deep(n - 1)
        raise RuntimeError("the health task died")

    try:
        deep(30)
    except RuntimeError as err:
        faults.keep(err, FLASH)
    kept = faults.last(FLASH)
    assert kept.endswith("RuntimeError: the health task died\n"), kept
    assert len(kept) == faults.CRASH_MAX  # the end: where it broke
    faults.keep(RuntimeError("x"), "/no/such/dir")  # a flash that fails never raises
