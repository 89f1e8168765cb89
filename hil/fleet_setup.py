"""Register simulated controllers and cards with a hub: directly in its database
(demo, benchmark: they own it) or through its REST API (sim against any hub), with an API key
as every caller needs (`admin_key` makes one in a database the tool owns)."""

from __future__ import annotations

import asyncio
import uuid

import httpx
from sqlalchemy import Engine

from hub.access import keys
from hub.access.callers import SYSTEM
from hub.core.clock import utcnow
from hub.devices.registry import add_device
from hub.wallets import cards as wallets
from hub.wallets.cash_desk import top_up


class Fleetplan:
    """What to create: n devices named <prefix>-dNNNN and n cards with a starting balance."""

    def __init__(
        self,
        devices: int,
        cards: int,
        balance: int,
        unit_price: int = 250,
        site: str = "demo-park",
        prefix: str | None = None,
    ):
        self.devices, self.cards, self.balance = devices, cards, balance
        self.unit_price, self.site = unit_price, site
        self.prefix = prefix or uuid.uuid4().hex[:6]

    def device_ids(self) -> list[str]:
        return [f"{self.prefix}-d{i:05d}" for i in range(self.devices)]

    def card_uids(self) -> list[str]:
        return [f"{self.prefix.upper()}{i:08X}" for i in range(self.cards)]


def admin_key(engine: Engine, name: str = "tapgift tools") -> str:
    """A new admin API key in the hub's database, as `tapgift key add` makes one."""
    with engine.begin() as conn:
        return keys.create_key(conn, SYSTEM, name=name, role="admin", now=utcnow())["key"]


def api(api_url: str, api_key: str | None) -> httpx.AsyncClient:
    """A client of the hub's REST API with the key; every POST carries an Idempotency-Key."""

    async def keyed(request: httpx.Request) -> None:
        if request.method == "POST" and "idempotency-key" not in request.headers:
            request.headers["Idempotency-Key"] = uuid.uuid4().hex

    return httpx.AsyncClient(
        base_url=api_url.rstrip("/") + "/api/v1",
        timeout=30,
        headers={"X-API-Key": api_key} if api_key else None,
        event_hooks={"request": [keyed]},
    )


def provision_db(engine: Engine, plan: Fleetplan, currency: str = "CHF"):
    """Returns ([(device_id, key_hex)], [card uid])."""
    with engine.begin() as conn:
        devices = [(d, add_device(conn, d, plan.site, plan.unit_price, currency)) for d in plan.device_ids()]
        for uid in plan.card_uids():
            wallets.issue_card(conn, currency, uid, "simulated visitor")
            if plan.balance:
                top_up(conn, uid, plan.balance, f"provision/{uid}", "starting balance")
    return devices, plan.card_uids()


async def provision_http(api_url: str, plan: Fleetplan, api_key: str | None = None, parallel: int = 16):
    """The same through the REST API, as a cash register or a script would."""
    sem = asyncio.Semaphore(parallel)
    async with api(api_url, api_key) as http:

        async def post(path, json, headers=None):
            async with sem:
                r = await http.post(path, json=json, headers=headers)
                r.raise_for_status()
                return r.json()

        created = await asyncio.gather(
            *(
                post("/devices", {"id": d, "site": plan.site, "unit_price": plan.unit_price})
                for d in plan.device_ids()
            )
        )

        async def card(uid):
            await post("/cards", {"uid": uid, "label": "simulated visitor"})
            if plan.balance:
                await post(
                    f"/cards/{uid}/topups", {"amount": plan.balance}, {"Idempotency-Key": f"provision/{uid}"}
                )

        await asyncio.gather(*(card(uid) for uid in plan.card_uids()))
    return [(c["id"], c["key"]) for c in created], plan.card_uids()


async def provision_loyalty(
    api_url: str, plan: Fleetplan, api_key: str | None = None, parallel: int = 16
) -> None:
    """Put the plan's devices in the loyalty engine, as a site's operator would: all sell a
    cola at one bar that earns points (an article rule and a basket-value rule), and every
    other card has a 10 % discount, so each tap is priced, discounted and earns points."""
    sem = asyncio.Semaphore(parallel)
    bar = f"{plan.prefix}-bar"
    async with api(api_url, api_key) as http:

        async def call(method, path, json):
            async with sem:
                r = await http.request(method, path, json=json)
                r.raise_for_status()

        await call("POST", "/sites", {"id": plan.site})
        await call("POST", "/outlets", {"id": bar, "site_id": plan.site, "kind": "bar"})
        await call("POST", "/product-groups", {"id": f"{plan.prefix}-drinks"})
        await call(
            "POST",
            "/articles",
            {
                "id": f"{plan.prefix}-cola",
                "price": plan.unit_price,
                "product_group_id": f"{plan.prefix}-drinks",
            },
        )
        await call(
            "PUT",
            "/bonus-settings",
            {"hours_until_available": 0, "default_validity_days": 30, "enabled_stores": [bar]},
        )
        await call(
            "POST",
            "/bonus-rules",
            {
                "name": "cola 5",
                "kind": "article",
                "stores": [bar],
                "channels_in": ["machine"],
                "targets": [{"id": f"{plan.prefix}-cola", "points": 5}],
            },
        )
        await call(
            "POST",
            "/bonus-rules",
            {
                "name": "1 per 1.00",
                "kind": "basket_value",
                "stores": [bar],
                "channels_in": ["machine"],
                "amount_per_point": 100,
            },
        )
        await asyncio.gather(
            *(
                call("PUT", f"/cards/{uid}/discounts", {"rates": [{"scope": "general", "percent": "10"}]})
                for uid in plan.card_uids()[::2]
            )
        )
        await asyncio.gather(
            *(
                call("PUT", f"/devices/{d}/loyalty", {"outlet_id": bar, "article_id": f"{plan.prefix}-cola"})
                for d in plan.device_ids()
            )
        )


async def points_held(api_url: str, uids: list[str], api_key: str | None = None, parallel: int = 16) -> int:
    """All points the cards hold, through the API: proof that taps went through the engine."""
    sem = asyncio.Semaphore(parallel)
    async with api(api_url, api_key) as http:

        async def held(uid):
            async with sem:
                r = await http.get(f"/cards/{uid}/points")
                r.raise_for_status()
                return r.json()["balance"]

        return sum(await asyncio.gather(*(held(uid) for uid in uids)))
