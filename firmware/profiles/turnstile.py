# One passage per grant: the relay unlocks until the passage sensor counts a
# passage or pass_timeout_ms passes. An unused grant is reported as 0
# delivered, so the hub voids it. The direction goes with the tap.
from firmware.profiles import base


class Profile(base.Profile):
    def tap_fields(self, body):
        body["dir"] = self.profile["direction"]

    async def deliver(self, units):
        start = self.board.sensor.count
        self.board.relays[0].on()
        counted = await self.wait_count(start + 1, self.profile["pass_timeout_ms"])
        return 1 if counted > start else 0
