# Drinks, water, tokens: one relay pulse per unit. With a flow/coin meter
# (sensor_pulses > 0) only the units the meter confirmed count as delivered.
from firmware.profiles import base


class Profile(base.Profile):
    async def deliver(self, units):
        per_unit = self.profile["sensor_pulses"]
        if not per_unit:
            return await self.pulse(units)
        start = self.board.sensor.count
        await self.pulse(units)
        counted = await self.wait_count(start + units * per_unit, self.profile["sensor_timeout_ms"])
        return (counted - start) // per_unit
