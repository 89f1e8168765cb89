"""The hub's REST API (/api/v1) for cash registers, scripts and the console."""

from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager

from fastapi import FastAPI
from sqlalchemy import Engine

from hub import __version__
from hub.access.limits import Ceilings, RateLimiter
from hub.api import docs, errors
from hub.api.deps import Bridge, Db
from hub.api.routers import api_router
from hub.devices.registry import DeviceDirectory


def create_app(
    engine: Engine,
    currency: str = "CHF",
    directory: DeviceDirectory | None = None,
    bridge: Bridge | None = None,
    ceilings: Ceilings | None = None,
) -> FastAPI:
    """The API on `engine`, booking in `currency`. `directory` and `bridge` are the MQTT side's
    (hub.service): the device lookups to drop after a device changes and the bridge that
    publishes commands; both None when the API runs without MQTT, as in tests. `ceilings`:
    the money limits per operator and key (hub.access.limits)."""
    app = FastAPI(
        lifespan=_share_rates,
        title="tapgift hub",
        version=__version__,
        description="Cards, wallets and controllers of a tapgift site. "
        "Amounts are integers in minor units (cents).",
        docs_url=None,  # /docs and /redoc with assets served here (hub/api/docs.py)
        redoc_url=None,
    )
    app.state.engine = engine
    app.state.db = Db(engine)
    app.state.currency = currency
    app.state.directory = directory
    app.state.bridge = bridge
    app.state.rate_limiter = RateLimiter()
    app.state.ceilings = ceilings or Ceilings()
    errors.install(app)
    app.include_router(api_router)
    docs.install(app)
    return app


@asynccontextmanager
async def _share_rates(app: FastAPI):
    """While the API serves, its API keys' request counts are shared with the other hubs."""
    sharing = asyncio.create_task(app.state.rate_limiter.share_forever(app.state.engine))
    try:
        yield
    finally:
        sharing.cancel()
        await asyncio.gather(sharing, return_exceptions=True)
