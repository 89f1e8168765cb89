"""`tapgift bench-api`: the REST path of the cash registers, measured.

Tills pay baskets (three articles, the card's discount where it has one, points earned at the
outlet) through a real hub process's REST API, 1 and then 8 of them at once, each as fast as
the hub answers: paid baskets per second, p50/p99 of a payment as the till saw it, failed
requests, and the hub's CPU per basket. Every request's headers come from `headers()`, the one
place that says how a till identifies itself.
"""

from __future__ import annotations

import asyncio
import os
import random
import tempfile
import time
import uuid
from pathlib import Path

import httpx

from hil.bench import Hubs, _cpu, _round, prepare
from hil.broker import Broker
from hil.fleet import percentile
from hil.fleet_setup import Fleetplan, provision_loyalty

ARTICLES = ("cola", "snack", "water")


def headers(api_key: str) -> dict[str, str]:
    """What a till sends with every request: its credentials (an API key today)."""
    return {"X-API-Key": api_key}


async def _setup(api_url: str, plan: Fleetplan, api_key: str) -> str:
    """The outlet and its three articles, a points rule for tills; returns the outlet id."""
    await provision_loyalty(api_url, plan, api_key)
    bar = f"{plan.prefix}-bar"
    async with httpx.AsyncClient(base_url=api_url + "/api/v1", headers=headers(api_key), timeout=30) as http:
        for article, price in (("snack", 400), ("water", 300)):
            body = {
                "id": f"{plan.prefix}-{article}",
                "price": price,
                "product_group_id": f"{plan.prefix}-drinks",
            }
            (
                await http.post("/articles", json=body, headers={"Idempotency-Key": uuid.uuid4().hex})
            ).raise_for_status()
        rule = {
            "name": "till: 1 per 1.00",
            "kind": "basket_value",
            "stores": [bar],
            "channels_in": ["till"],
            "amount_per_point": 100,
        }
        (
            await http.post("/bonus-rules", json=rule, headers={"Idempotency-Key": uuid.uuid4().hex})
        ).raise_for_status()
    return bar


async def _till(http: httpx.AsyncClient, plan: Fleetplan, bar: str, cards: list[str], until: float, rng, out):
    lines = [{"article_id": f"{plan.prefix}-{a}", "quantity": 1} for a in ARTICLES]
    while time.perf_counter() < until:
        basket = {"card_uid": rng.choice(cards), "outlet_id": bar, "lines": lines}
        start = time.perf_counter()
        try:
            r = await http.post("/baskets/pay", json=basket, headers={"Idempotency-Key": uuid.uuid4().hex})
            ok = r.status_code == 201
        except httpx.HTTPError:
            ok = False
        out["latencies"].append((time.perf_counter() - start) * 1000)
        out["paid" if ok else "failed"] += 1


async def _round_of(api_url, api_key, plan, bar, cards, tills, seconds, hub_pids) -> dict:
    out = {"paid": 0, "failed": 0, "latencies": []}
    limits = httpx.Limits(max_connections=tills, max_keepalive_connections=tills)
    async with httpx.AsyncClient(
        base_url=api_url + "/api/v1", headers=headers(api_key), timeout=30, limits=limits
    ) as http:
        cpu0, start = _cpu(hub_pids), time.perf_counter()
        until = start + seconds
        await asyncio.gather(
            *(_till(http, plan, bar, cards, until, random.Random(i), out) for i in range(tills))
        )
        elapsed, cpu1 = time.perf_counter() - start, _cpu(hub_pids)
    paid = out["paid"]
    return {
        "tills": tills,
        "baskets_per_s": round(paid / elapsed, 1),
        "p50_ms": _round(percentile(out["latencies"], 0.50)),
        "p99_ms": _round(percentile(out["latencies"], 0.99)),
        "paid": paid,
        "failed": out["failed"],
        "hub_cpu_ms_per_basket": round((cpu1 - cpu0) * 1000 / paid, 3) if paid and cpu0 is not None else None,
    }


def run(db: str, seconds: float, tills: list[int], cards: int = 2000) -> dict:
    """db: 'sqlite' (a file of the run) or a postgresql:// admin URL (a scratch database)."""
    if db.startswith("postgresql"):
        from hil.bench_ledger import scratch_database

        with scratch_database(db) as url:
            return _run(url, seconds, tills, cards)
    return _run(db, seconds, tills, cards)


def _run(db: str, seconds: float, tills: list[int], cards: int) -> dict:
    work = Path(tempfile.mkdtemp(prefix="tapgift-bench-api-"))
    db_url = f"sqlite:///{work / 'bench.db'}" if db == "sqlite" else db
    plan = Fleetplan(devices=1, cards=cards, balance=100_000_000, site="till-park")
    _devices, uids, api_key = prepare(db_url, plan)
    with Broker(workdir=work) as broker, Hubs(1, db_url, broker, work) as hub:
        api_url = hub.api_url()
        bar = asyncio.run(_setup(api_url, plan, api_key))
        rounds = [
            asyncio.run(_round_of(api_url, api_key, plan, bar, uids, n, seconds, hub.pids)) for n in tills
        ]
    return {
        "rounds": rounds,
        "basket": "3 articles, 10 % discount on every other card, points earned",
        "db": "postgresql" if db_url.startswith("postgresql") else "sqlite",
        "cpus": os.cpu_count(),
    }
