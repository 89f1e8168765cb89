# Hardware abstraction: the firmware talks to a "board" object and never to
# `machine` directly, so the same modules run on an ESP32 (hal_esp32) and
# under CPython in the HIL suite (hal_sim). A board provides:
#
#   board.relays        list of relays; relay.on(), relay.off(), relay.value() -> bool
#   board.reader        card reader; `async read()` -> uppercase hex UID of the next card
#   board.indicator     indicator.signal(kind), kind one of GRANT, DENY, ERROR
#   board.flash_dir     folder on flash for small state files (boot counter, report journal)
#   board.watchdog(ms)  start the watchdog; returns an object with feed()
#   board.tasks(cfg)    coroutines the board needs running (e.g. keeping Wi-Fi up); they never return
#
# A board module is chosen by the caller: firmware.app imports hal_esp32
# lazily and only on a board; the HIL passes a hal_sim board in.

GRANT = "grant"
DENY = "deny"
ERROR = "error"

# Set by boot.py, read by main.py (both run in one interpreter, and a module
# in sys.modules outlives the boot script).
maintenance = False


def all_off(relays):
    for relay in relays:
        relay.off()
