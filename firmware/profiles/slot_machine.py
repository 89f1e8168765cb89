# A debit becomes credit pulses on the slot machine's coin input (relay 0):
# one pulse per credit; delivered = pulses given.
from firmware.profiles import base


class Profile(base.Profile):
    async def deliver(self, units):
        return await self.pulse(units)
