# Runs after boot.py. In maintenance mode nothing starts (and no watchdog),
# so a technician can use mpremote.
import firmware.hal

if not firmware.hal.maintenance:
    import firmware.app

    firmware.app.main()
