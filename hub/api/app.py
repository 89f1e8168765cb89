"""The hub's REST API (/api/v1) for cash registers, scripts and the console."""
from __future__ import annotations

import logging
import uuid
from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, FastAPI, Header, HTTPException
from pydantic import BaseModel, Field
from sqlalchemy import Engine, select

from hub import __version__
from hub.api.fields import MAX_AMOUNT, CardUid, HistoryItem
from hub.api.routers import cards as cards_api
from hub.api.routers import device_loyalty as machine_api
from hub.api.routers import devices as device_api
from hub.api.routers import gifts as gifts_api
from hub.api.routers import loyalty as loyalty_api
from hub.api.runner import runner
from hub.cards import replacement
from hub.core.errors import Conflict, Invalid
from hub.devices import management as commands
from hub.devices import registry as devices
from hub.devices.registry import DEVICES, DeviceDirectory, add_device
from hub.ledger import ledger_totals
from hub.wallets import cards as wallet_cards
from hub.wallets import cash_desk, history
from hub.wallets import topup_bonus as promotions

log = logging.getLogger("tapgift.api")



class LedgerSums(BaseModel):
    posted: int = Field(description="sum of all posted balances of the ledger's accounts")
    pending: int = Field(description="sum of all pending balances")


class HealthOut(BaseModel):
    version: str
    mqtt_connected: bool | None = Field(description="None: this API runs without a bridge")
    stats: dict[str, int] = Field(description="the bridge's counters since start")


class CardIn(BaseModel):
    uid: str | None = Field(None, pattern=r"^[0-9A-Fa-f]{8,20}$",
                            description="RFID UID in hex; omitted: the hub makes one")
    label: str = Field("", max_length=100)


class CardOut(BaseModel):
    uid: str
    status: str
    label: str
    ledger: str
    balance: int = Field(description="posted balance in minor units")
    held: int = Field(description="pending holds of taps not yet reported")
    available: int = Field(description="balance less held: what may be spent")


class TopUpIn(BaseModel):
    amount: int = Field(gt=0, le=MAX_AMOUNT, strict=True,
                        description="minor units as a JSON integer, e.g. 5000 for 50.00")
    reason: str = Field("", max_length=200)


class TopUpOut(CardOut):
    transfer: str
    bonus: int = Field(description="extra balance the top-up tier gave (booked as topup_bonus)")
    repeated: bool = Field(description="true when the Idempotency-Key was seen before")


class RefundOut(CardOut):
    refunded: int = Field(description="paid back at the cash desk, minor units")
    bonus_lapsed: int = Field(0, description="unspent bonus credit that is not paid back")
    repeated: bool


class ReplaceIn(CardIn):
    """The replacement card, described as a new card is (label: the lost card's if empty)."""


class ReplaceOut(BaseModel):
    old: CardOut
    new: CardOut


class Tier(BaseModel):
    min_amount: int = Field(ge=0, le=MAX_AMOUNT, strict=True, description="from this top-up on")
    percent: Decimal = Field(ge=0, le=100, description="extra balance in percent, e.g. 5 or 2.5")


class DeviceIn(BaseModel):
    id: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,40}$")
    site: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,40}$")
    unit_price: int = Field(gt=0, le=MAX_AMOUNT, strict=True)
    name: str = Field("", max_length=100)
    kind: str = Field("dispenser", pattern=r"^[a-z_]{1,20}$")


class DeviceChange(BaseModel):
    unit_price: int | None = Field(None, gt=0, le=MAX_AMOUNT, strict=True,
                                   description="minor units per unit, from the next tap on")
    name: str | None = Field(None, max_length=100)


class DeviceOut(BaseModel):
    id: str
    site: str
    name: str
    kind: str
    unit_price: int


class DeviceCreated(DeviceOut):
    key: str = Field(description="the device's secret HMAC key (hex); shown only here")


def create_app(engine: Engine, currency: str = "CHF", directory: DeviceDirectory | None = None,
               bridge=None) -> FastAPI:
    app = FastAPI(title="tapgift hub", version=__version__,
                  description="Cards, wallets and controllers of a tapgift site. "
                              "Amounts are integers in minor units (cents).")
    api = APIRouter(prefix="/api/v1")

    run = runner(engine)

    @api.post("/cards", response_model=CardOut, status_code=201, tags=["cards"])
    def issue_card(card: CardIn):
        """Issue a card (wristband) with an empty wallet."""
        return run(wallet_cards.issue_card, currency, card.uid, card.label)

    @api.get("/cards/{uid}", response_model=CardOut, tags=["cards"])
    def get_card(uid: CardUid):
        return run(wallet_cards.card_view, uid, write=False)

    async def sync_deny_lists():
        """Controllers keep blocked cards on flash, to refuse them even offline."""
        if bridge is None:
            return
        try:
            await commands.sync_deny(bridge, engine)
        except Exception:  # the next block, or POST /devices/deny-sync, catches up
            log.exception("deny lists not sent")

    @api.post("/cards/{uid}/block", response_model=CardOut, tags=["cards"])
    def block_card(uid: CardUid, background: BackgroundTasks):
        """Block a lost card: every tap with it is denied from now on, and the controllers'
        deny lists are brought up to date."""
        card = run(wallet_cards.set_status, uid, "blocked")
        background.add_task(sync_deny_lists)
        return card

    @api.post("/cards/{uid}/unblock", response_model=CardOut, tags=["cards"])
    def unblock_card(uid: CardUid, background: BackgroundTasks):
        card = run(wallet_cards.set_status, uid, "active")
        background.add_task(sync_deny_lists)
        return card

    @api.post("/cards/{uid}/topups", response_model=TopUpOut, status_code=201, tags=["cards"])
    def top_up(uid: CardUid, body: TopUpIn,
               idempotency_key: Annotated[str | None, Header(max_length=100)] = None):
        """Credit the card's wallet. Send an Idempotency-Key header so that a retried
        request books once: the repeat returns the first answer with repeated=true."""
        key = "topup/" + (idempotency_key or uuid.uuid4().hex)
        return run(cash_desk.top_up, uid, body.amount, key, body.reason, retry=True)

    @api.post("/cards/{uid}/refund", response_model=RefundOut, tags=["cards"])
    def refund(uid: CardUid, idempotency_key: Annotated[str | None, Header(max_length=100)] = None):
        """Pay back the card's own money (the visitor's top-ups less what was spent);
        unspent top-up bonus is not paid back. Refused while taps wait for their report."""
        return run(cash_desk.refund, uid, "refund/" + (idempotency_key or uuid.uuid4().hex))

    @api.post("/cards/{uid}/replace", response_model=ReplaceOut, status_code=201, tags=["cards"])
    def replace(uid: CardUid, body: ReplaceIn, background: BackgroundTasks):
        """A lost card: block it and move its balance to a new card. Both keep their history."""
        done = run(replacement.replace, uid, body.uid, body.label)
        background.add_task(sync_deny_lists)
        return done

    @api.get("/topup-tiers", response_model=list[Tier], tags=["promotions"])
    def topup_tiers():
        return run(promotions.get_tiers, currency, write=False)

    @api.put("/topup-tiers", response_model=list[Tier], tags=["promotions"])
    def set_topup_tiers(tiers: list[Tier]):
        """Replace the top-up bonus tiers: the highest tier a top-up reaches gives its
        percentage of the whole top-up as extra balance (rounded down to the minor unit)."""
        try:
            return run(promotions.set_tiers, currency, [t.model_dump() for t in tiers])
        except Invalid as exc:
            raise HTTPException(422, str(exc)) from exc

    @api.get("/cards/{uid}/history", response_model=list[HistoryItem], tags=["cards"])
    def card_history(uid: CardUid, limit: int = 100):
        return run(history.history, uid, min(max(limit, 1), 1000), write=False)

    @api.post("/devices", response_model=DeviceCreated, status_code=201, tags=["devices"])
    def register_device(device: DeviceIn):
        """Register a controller; the answer carries its secret key for provisioning."""
        def add(conn):
            if conn.execute(select(DEVICES.c.id).where(DEVICES.c.id == device.id)).first():
                raise Conflict(f"device {device.id} exists")
            key = add_device(conn, device.id, device.site, device.unit_price, currency,
                             device.name, device.kind)
            return {**device.model_dump(), "name": device.name or device.id, "key": key}
        created = run(add)
        if directory is not None:
            directory.forget(device.id)
        return created

    @api.patch("/devices/{device_id}", response_model=DeviceOut, tags=["devices"])
    def change_device(device_id: str, change: DeviceChange):
        """Change a controller's price (or name). Taps already granted keep their price; this
        hub applies the new one from the next tap, other hub processes within 30 s."""
        changed = run(devices.change_device, device_id, change.unit_price, change.name)
        if directory is not None:
            directory.forget(device_id)
        return changed

    @api.get("/devices", response_model=list[DeviceOut], tags=["devices"])
    def list_devices():
        def rows(conn):
            return [dict(r) for r in conn.execute(select(DEVICES).order_by(DEVICES.c.id)).mappings()]
        return run(rows, write=False)

    @api.get("/ledgers", response_model=dict[str, LedgerSums], tags=["ledger"])
    def ledgers():
        """Per ledger, the sum of all posted and of all pending balances: always zero."""
        return run(ledger_totals, write=False)

    @api.get("/health", response_model=HealthOut, tags=["hub"])
    def health():
        stats = dict(bridge.stats) if bridge else {}
        connected = bridge.connected.is_set() if bridge else None
        return {"version": __version__, "mqtt_connected": connected, "stats": stats}

    app.include_router(api)
    app.include_router(loyalty_api.router(engine, currency))
    app.include_router(gifts_api.router(engine, currency))
    app.include_router(cards_api.router(engine, currency))
    app.include_router(device_api.router(engine, bridge))
    app.include_router(machine_api.router(engine))
    return app
