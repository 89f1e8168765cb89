# The MicroPython clock and asyncio names firmware/hal.py offers, built for
# CPython (the HIL suite and the tests) on time.monotonic and asyncio.sleep.
import asyncio
import time


def ticks_ms():
    return int(time.monotonic() * 1000)


def ticks_us():
    return int(time.monotonic() * 1000000)


def ticks_diff(a, b):
    return a - b


async def sleep_ms(ms):
    await asyncio.sleep(ms / 1000)


async def wait_for_ms(aw, ms):
    # Not asyncio.wait_for: on 3.11 it loses a cancel that arrives as the
    # awaited thing finishes, and then run() could never be cancelled.
    async with asyncio.timeout(ms / 1000):
        return await aw
