"""The Machines page: the controllers the operator may see, their kind, site and price, and a
new price from the next tap (as PATCH /api/v1/devices/{id}: audited with the old row, checked
against the operator's site or outlet)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse
from sqlalchemy import Connection

from hub.access.callers import Caller
from hub.console import i18n
from hub.console.live import _visible
from hub.console.web import Needs, Page, form_data, same_origin
from hub.core.errors import DomainError
from hub.devices import registry

router = APIRouter()

MachinesPage = Annotated[Page, Needs("devices.read")]
ChangePage = Annotated[Page, Needs("devices.write")]


def _show(page: Page, status: int = 200, errors: dict | None = None, values: dict | None = None):
    devices = page.db().read(_visible, page.caller)
    return page.render(
        "machines.html",
        status,
        title=page._("Machines"),
        devices=devices,
        errors=errors or {},
        values=values or {},
        plain=lambda cents: i18n.plain_amount(cents, page.currency),
    )


@router.get("/machines")
def machines(page: MachinesPage, changed: str | None = None):
    if changed:
        found = [d for d in page.db().read(_visible, page.caller) if d["id"] == changed]
        if found:
            page.messages.append(
                (
                    "ok",
                    page._(
                        "Price of {device} is now {price}.",
                        device=changed,
                        price=page.money(found[0]["unit_price"]),
                    ),
                )
            )
    return _show(page)


def _change_price(conn: Connection, caller: Caller, device_id: str, price: int) -> dict:
    caller.check_device(conn, device_id)
    return registry.change_device(conn, device_id, price)


@router.post("/machines/{device_id}/price", name="change_device", dependencies=[Depends(same_origin)])
async def change_price(request: Request, page: ChangePage, device_id: str):
    form = await form_data(request)
    text = form.get("unit_price", "")
    price = i18n.parse_amount(text, page.currency)
    if price is None:
        return _show(
            page, 422, errors={device_id: page._("Enter a price such as 2.50.")}, values={device_id: text}
        )
    body = {"unit_price": price}
    try:
        page.db(body).write(
            _change_price,
            page.caller,
            device_id,
            price,
            before=lambda conn: registry.device_row(conn, device_id),
        )
    except DomainError as exc:
        message = str(exc)
        if "unit_price must be positive" in message:
            message = page._("The price may be 0 only for a turnstile.")
        return _show(page, exc.status, errors={device_id: message}, values={device_id: text})
    directory = request.app.state.directory
    if directory is not None:
        directory.forget(device_id)
    return RedirectResponse(f"/machines?changed={device_id}", status_code=303)
