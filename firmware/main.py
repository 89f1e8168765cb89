# Runs after boot.py. In maintenance mode nothing starts (and no watchdog),
# so a technician can use mpremote.
import firmware.hal

if not firmware.hal.maintenance:
    try:
        import firmware.app
    except Exception:
        state = getattr(firmware.hal, "ota", None)  # set by boot.py
        if state and state[2] == "trial":  # an update that does not load: boot.py counts it
            import machine

            machine.reset()
        raise
    firmware.app.main()
