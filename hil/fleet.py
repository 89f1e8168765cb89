"""Many simulated controllers in one process, tapped at an aggregate rate.

Each device has at most one tap in flight (a visitor waits for the machine);
when every device is busy a due tap is skipped and counted as such. Latency
is the tap -> reply round trip as each device measured it (whole ms, the
firmware's clock), so timeouts are not part of it.
"""

from __future__ import annotations

import asyncio
import os
import random

from hil.device import SimDevice
from hub.devices.registry import mqtt_credentials

START_BATCH = 100  # connections opened at once: keeps the broker's accept queue short
TICK_S = 0.002


class Fleet:
    def __init__(self, devices, site, host, port, flash_root, profile=None):
        """devices: [(device_id, key_hex)] known to the hub (see hil.fleet_setup). Each
        logs in to the broker with the MQTT credentials the hub derives from its key."""
        self.devices = [
            SimDevice(
                device_id,
                site,
                key,
                host,
                port,
                os.path.join(flash_root, device_id),
                profile,
                self._hook(i),
                credentials=mqtt_credentials(device_id, key),
            )
            for i, (device_id, key) in enumerate(devices)
        ]
        self._idle = []
        self._tally = None

    async def start(self, timeout=60.0):
        """Power every device on and wait until all are connected."""
        for i in range(0, len(self.devices), START_BATCH):
            batch = self.devices[i : i + START_BATCH]
            for device in batch:
                await device.start()
            await asyncio.gather(*(d.wait_connected(timeout) for d in batch))

    async def stop(self):
        await asyncio.gather(*(d.power_cut() for d in self.devices))

    async def run(self, cards, rate, duration):
        """Tap random cards at `rate` taps/s for `duration` s; a summary dict."""
        loop = asyncio.get_running_loop()
        self._idle = list(range(len(self.devices)))
        self._tally = {"granted": 0, "denied": 0, "timeouts": 0, "latencies": []}
        last_card = [None] * len(self.devices)
        taps = skipped = 0
        start = loop.time()
        while loop.time() - start < duration:
            due = int((loop.time() - start) * rate) - taps - skipped
            for _ in range(due):
                if not self._idle:
                    skipped += 1
                    continue
                i = self._take_idle()
                last_card[i] = _pick(cards, last_card[i])
                self.devices[i].tap(last_card[i])
                taps += 1
            await asyncio.sleep(TICK_S)
        issued_s = loop.time() - start
        await self._drain(loop)
        return self._summary(taps, skipped, rate, issued_s)

    def _hook(self, index):
        def on_result(card, outcome, code, rtt_ms):
            tally = self._tally
            if tally is None:
                return
            if outcome == "grant":
                tally["granted"] += 1
            elif outcome == "deny":
                tally["denied"] += 1
            else:
                tally["timeouts"] += 1
            if outcome != "timeout":
                tally["latencies"].append(rtt_ms)
            self._idle.append(index)

        return on_result

    def _take_idle(self):
        idle = self._idle
        j = random.randrange(len(idle))
        idle[j], idle[-1] = idle[-1], idle[j]
        return idle.pop()

    async def _drain(self, loop):
        """Wait for the taps still in flight, at most as long as one tap can take."""
        p = self.devices[0].cfg.profile
        longest = (
            (p["retries"] + 1) * p["reply_timeout_ms"] + p["units"] * (p["pulse_ms"] + p["gap_ms"])
        ) / 1000 + 1.0
        deadline = loop.time() + longest
        while len(self._idle) < len(self.devices) and loop.time() < deadline:
            await asyncio.sleep(0.01)

    def _summary(self, taps, skipped, rate, issued_s):
        tally = self._tally
        self._tally = None
        latencies = tally["latencies"]
        return {
            "taps": taps,
            "granted": tally["granted"],
            "denied": tally["denied"],
            "timeouts": tally["timeouts"],
            "unanswered": taps - tally["granted"] - tally["denied"] - tally["timeouts"],
            "skipped": skipped,
            "p50_ms": percentile(latencies, 0.50),
            "p99_ms": percentile(latencies, 0.99),
            "devices": len(self.devices),
            "rate": round(taps / issued_s, 1) if issued_s else 0.0,
            "target_rate": rate,
            "duration_s": round(issued_s, 3),
        }


def _pick(cards, previous):
    """A random card, not the one this device just saw (its cooldown would swallow it)."""
    while True:
        card = random.choice(cards)
        if card != previous or len(cards) == 1:
            return card


def percentile(values, q):
    """The q-quantile (nearest rank) of values, None when there are none."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]
