"""Register simulated controllers and cards with a hub: directly in its database
(demo, benchmark: they own it) or through its REST API (sim against any hub)."""
from __future__ import annotations

import asyncio
import uuid

import httpx
from sqlalchemy import Engine

from hub import wallets
from hub.devices import add_device


class Fleetplan:
    """What to create: n devices named <prefix>-dNNNN and n cards with a starting balance."""

    def __init__(self, devices: int, cards: int, balance: int, unit_price: int = 250,
                 site: str = "demo-park", prefix: str | None = None):
        self.devices, self.cards, self.balance = devices, cards, balance
        self.unit_price, self.site = unit_price, site
        self.prefix = prefix or uuid.uuid4().hex[:6]

    def device_ids(self) -> list[str]:
        return [f"{self.prefix}-d{i:05d}" for i in range(self.devices)]

    def card_uids(self) -> list[str]:
        return [f"{self.prefix.upper()}{i:08X}" for i in range(self.cards)]


def provision_db(engine: Engine, plan: Fleetplan, currency: str = "CHF"):
    """Returns ([(device_id, key_hex)], [card uid])."""
    with engine.begin() as conn:
        devices = [(d, add_device(conn, d, plan.site, plan.unit_price, currency))
                   for d in plan.device_ids()]
        for uid in plan.card_uids():
            wallets.issue_card(conn, currency, uid, "simulated visitor")
            if plan.balance:
                wallets.top_up(conn, uid, plan.balance, f"provision/{uid}", "starting balance")
    return devices, plan.card_uids()


async def provision_http(api_url: str, plan: Fleetplan, parallel: int = 16):
    """The same through the REST API, as a cash register or a script would."""
    sem = asyncio.Semaphore(parallel)
    async with httpx.AsyncClient(base_url=api_url.rstrip("/") + "/api/v1", timeout=30) as http:
        async def post(path, json, headers=None):
            async with sem:
                r = await http.post(path, json=json, headers=headers)
                r.raise_for_status()
                return r.json()

        created = await asyncio.gather(*(post("/devices", {
            "id": d, "site": plan.site, "unit_price": plan.unit_price}) for d in plan.device_ids()))

        async def card(uid):
            await post("/cards", {"uid": uid, "label": "simulated visitor"})
            if plan.balance:
                await post(f"/cards/{uid}/topups", {"amount": plan.balance},
                           {"Idempotency-Key": f"provision/{uid}"})

        await asyncio.gather(*(card(uid) for uid in plan.card_uids()))
    return [(c["id"], c["key"]) for c in created], plan.card_uids()
