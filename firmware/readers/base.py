# The loop every reader shares: poll for a card, pause between polls, check
# the chip's version every check_ms, and re-initialise a reader that stopped
# answering (readers are known to hang after days). Every bus operation of a
# driver has a deadline, so a hung chip costs a bounded time and never blocks
# the event loop: drivers only ever wait with `await sleep_ms(...)`.
from firmware.hal import sleep_ms, ticks_diff, ticks_ms


class ReaderError(Exception):
    """The reader answered nonsense (bad checksum, wrong reply) or not at all."""


def hexstr(data):
    # bytes.hex, not binascii: importing binascii costs a board heap it does not have.
    return bytes(data).hex().upper()


class Reader:
    # A driver implements:
    #   async init()    (re)initialise the chip; may raise
    #   async alive()   True when the chip answers its version/register check
    #   async poll()    one attempt: a card id, or None; sets last_sun for it
    def __init__(self):
        self.resets = 0
        self.healthy = False
        self.version = None
        self.last_sun = None
        self.poll_ms = 60  # pause between polls when no card is there
        self.check_ms = 5000  # health check period
        self.retry_ms = 2000  # pause before the next re-init of a dead reader
        self._checked = 0
        self._started = False

    async def read(self):
        while True:
            self.last_sun = None
            if not self.healthy:
                await self._restart()
            elif ticks_diff(ticks_ms(), self._checked) >= self.check_ms:
                await self._check()
            else:
                try:
                    card = await self.poll()
                except (OSError, ReaderError):
                    card = None
                    self.last_sun = None
                    await self._check()  # nonsense or silence: is the chip still there?
                if card:
                    return card
            await sleep_ms(self.poll_ms if self.healthy else self.retry_ms)

    async def _check(self):
        try:
            self.healthy = bool(await self.alive())
        except (OSError, ReaderError):
            self.healthy = False
        self._checked = ticks_ms()

    async def _restart(self):
        if self._started:
            self.resets += 1
        self._started = True
        try:
            await self.init()
        except (OSError, ReaderError):
            pass  # the check below fails and the next attempt comes after retry_ms
        await self._check()
