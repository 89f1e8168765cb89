"""Shared by the tests that build the ESP32 board against a fake `machine` and `network`."""

import sys


def restore_modules(saved):
    """Undo a fake board: forget the firmware's ESP32 modules (imported against the fakes) and put
    back `machine` and `network` as `saved` held them (name -> module, or None: there was none)."""
    import firmware

    for attr in ("hal_esp32", "esp32_setup"):
        try:
            delattr(firmware, attr)
        except (AttributeError, KeyError, TypeError):
            pass
    for name in ("machine", "network", "firmware.hal_esp32", "firmware.esp32_setup"):
        if saved.get(name) is None:
            sys.modules.pop(name, None)
        else:
            sys.modules[name] = saved[name]
