# Time helpers shared by MicroPython (ESP32) and CPython (the HIL simulator).
# MicroPython has wrapping millisecond ticks and asyncio.sleep_ms/wait_for_ms;
# on CPython the same names are built on time.monotonic and asyncio.sleep.
import asyncio
import time

try:
    ticks_ms = time.ticks_ms
    ticks_diff = time.ticks_diff
except AttributeError:

    def ticks_ms():
        return int(time.monotonic() * 1000)

    def ticks_diff(a, b):
        return a - b


try:
    sleep_ms = asyncio.sleep_ms
    wait_for_ms = asyncio.wait_for_ms
except AttributeError:

    async def sleep_ms(ms):
        await asyncio.sleep(ms / 1000)

    async def wait_for_ms(aw, ms):
        # Not asyncio.wait_for: on 3.11 it loses a cancel that arrives as the
        # awaited thing finishes, and then run() could never be cancelled.
        async with asyncio.timeout(ms / 1000):
            return await aw
