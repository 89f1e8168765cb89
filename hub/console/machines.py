"""The Machines page: the controllers the operator may see, their kind, site and price; a new
price from the next tap (as PATCH /api/v1/devices/{id}: audited with the old row, checked
against the operator's site or outlet); and a new controller (as POST /api/v1/devices: admitted
at the broker when the hub administers it), whose key is shown once with the `tapgift fw flash`
command that writes its provisioning file and flashes the board."""

from __future__ import annotations

import json
import os
import re
from typing import Annotated

import anyio.from_thread
from fastapi import APIRouter, Depends
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import Connection, func, select

from hub.access.callers import Caller, visible_devices
from hub.api.deps import Scope
from hub.console import i18n
from hub.console.web import Form, Needs, Page, same_origin
from hub.core.errors import DomainError
from hub.devices import management, provisioning, registry
from hub.devices.admission import Admission, BrokerUnavailable
from hub.gifts import list_items
from hub.loyalty import catalogue
from hub.loyalty.outlets import list_outlets, list_sites
from hub.tables.devices import DeviceDeny
from hub.taps import device_loyalty
from hub.wallets.cards import CARDS

router = APIRouter()

DEVICE_ID = re.compile(r"[A-Za-z0-9_.-]{1,40}")  # hub/api/routers/devices.py
KINDS = provisioning.KINDS

MachinesPage = Annotated[Page, Needs("devices.read")]
ChangePage = Annotated[Page, Needs("devices.write")]


def _last_commands(conn: Connection) -> dict[str, dict]:
    """Each device's newest command: its kind and whether the device applied it."""
    commands = management.COMMANDS
    newest = (
        select(commands.c.device_id, func.max(commands.c.seq).label("seq"))
        .group_by(commands.c.device_id)
        .subquery()
    )
    rows = conn.execute(
        select(
            commands.c.device_id, commands.c.seq, commands.c.kind, commands.c.status, commands.c.created_at
        ).join(newest, (newest.c.device_id == commands.c.device_id) & (newest.c.seq == commands.c.seq))
    ).mappings()
    return {r["device_id"]: dict(r) for r in rows}


def _show(
    page: Page,
    status: int = 200,
    errors: dict | None = None,
    values: dict | None = None,
    new: dict | None = None,
    created: dict | None = None,
):
    devices = page.db().read(visible_devices, page.caller)
    return page.render(
        "machines.html",
        status,
        title=page._("Machines"),
        devices=devices,
        commands=page.db().read(_last_commands),
        errors=errors or {},
        values=values or {},
        new=new or {},
        created=created,
        kinds=KINDS,
        sites=page.db().read(list_sites) if page.may("devices.write") else [],
        plain=lambda cents: i18n.plain_amount(cents, page.currency),
    )


@router.get("/machines")
def machines(page: MachinesPage, changed: str | None = None, rebooted: str | None = None):
    if changed:
        found = [d for d in page.db().read(visible_devices, page.caller) if d["id"] == changed]
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
    if rebooted and DEVICE_ID.fullmatch(rebooted):
        page.messages.append(("ok", page._("Reboot sent to {device}.", device=rebooted)))
    return _show(page)


def _change_price(conn: Connection, caller: Caller, device_id: str, price: int) -> dict:
    caller.check_device(conn, device_id)
    return registry.change_device(conn, device_id, price)


@router.post("/machines/{device_id}/price", name="change_device", dependencies=[Depends(same_origin)])
def change_price(form: Form, page: ChangePage, device_id: str):
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
        message = page.error(exc)
        if "unit_price must be positive" in str(exc):
            message = page._("The price may be 0 only for a turnstile.")
        return _show(page, exc.status, errors={device_id: message}, values={device_id: text})
    directory = page.request.app.state.directory
    if directory is not None:
        directory.forget(device_id)
    return RedirectResponse(f"/machines?changed={device_id}", status_code=303)


@router.post("/machines", name="register_device", dependencies=[Depends(same_origin)])
def register(form: Form, page: ChangePage):
    """Register a controller; its key is shown on this answer only."""
    new = {k: form.get(k, "").strip() for k in ("id", "site", "kind", "name", "unit_price")}
    errors = {}
    if not DEVICE_ID.fullmatch(new["id"]):
        errors["id"] = page._("A device id is 1-40 letters, digits or _ . -.")
    if not DEVICE_ID.fullmatch(new["site"]):
        errors["site"] = page._("Choose a site.")
    if new["kind"] not in KINDS:
        errors["kind"] = page._("Choose a kind.")
    if len(new["name"]) > 100:
        errors["name"] = page._("At most 100 characters.")
    price = i18n.parse_amount(new["unit_price"], page.currency)
    if price is None:
        errors["unit_price"] = page._("Enter a price such as 2.50.")
    elif price == 0 and new["kind"] != "turnstile":
        errors["unit_price"] = page._("The price may be 0 only for a turnstile.")
    if errors:
        return _show(page, 422, errors=errors, new=new)
    body = {
        "id": new["id"],
        "site": new["site"],
        "unit_price": price,
        "name": new["name"],
        "kind": new["kind"],
    }

    def add(conn: Connection) -> dict:
        if page.caller.scoped:
            page.caller.check_site(conn, new["site"])
        key = registry.add_device(
            conn, new["id"], new["site"], price, page.currency, new["name"], new["kind"]
        )
        return {**body, "name": new["name"] or new["id"], "key": key}

    try:
        created = page.db(body).write(add, retry=True)
    except DomainError as exc:
        page.messages.append(("error", page._("Not done: {reason}", reason=page.error(exc))))
        return _show(page, exc.status, new=new)
    app = page.request.app
    if app.state.directory is not None:
        app.state.directory.forget(new["id"])
    admission = getattr(app.state, "admission", None) or Admission()
    if admission.enabled:
        try:
            anyio.from_thread.run(admission.admit, new["id"], new["site"], created["key"])
        except BrokerUnavailable as exc:
            page.messages.append(("error", page._("Not done: {reason}", reason=page.error(exc))))
    return _show(page, 201, created=created)


@router.post("/machines/{device_id}/reboot", name="send_command", dependencies=[Depends(same_origin)])
def reboot(page: ChangePage, device_id: str):
    """Reboot a controller (as POST /api/v1/devices/{id}/commands with k=reboot): stored, then
    published; a device offline now gets it when it comes online."""
    body = {"k": "reboot"}
    app = page.request.app
    try:
        page.db().read(lambda conn: page.caller.check_device(conn, device_id))
        seq = anyio.from_thread.run(management.send, app.state.bridge, app.state.engine, device_id, body)
        page.db(body).write(lambda conn: {"seq": seq})
    except DomainError as exc:
        page.messages.append(("error", page._("Not done: {reason}", reason=page.error(exc))))
        return _show(page, exc.status)
    return RedirectResponse(f"/machines?rebooted={device_id}", status_code=303)


# --- one machine -------------------------------------------------------------------------------

DENY = DeviceDeny.__table__


def _machine(conn: Connection, caller, device_id: str) -> dict:
    caller.check_device(conn, device_id)
    device = registry.device_row(conn, device_id)
    try:
        loyalty = device_loyalty.get_settings(conn, device_id)
    except DomainError:
        loyalty = None
    blocked = set(conn.execute(select(CARDS.c.uid).where(CARDS.c.status == "blocked")).scalars())
    told = set(conn.execute(select(DENY.c.card_uid).where(DENY.c.device_id == device_id)).scalars())
    return {
        "device": device,
        "health": management.latest_health(conn, device_id),
        "commands": management.list_commands(conn, device_id, 10),
        "loyalty": loyalty,
        "deny": {
            "blocked": len(blocked),
            "told": len(blocked & told),
            "missing": sorted(blocked - told)[:20],
        },
        "outlets": list_outlets(conn),
        "articles": catalogue.list_articles(conn),
        "gift_items": list_items(conn),
    }


def _show_machine(
    page: Page,
    device_id: str,
    status: int = 200,
    errors: dict | None = None,
    values=None,
    provision: dict | None = None,
):
    try:
        data = page.db().read(_machine, page.caller, device_id)
    except DomainError as exc:
        return page.render("error.html", exc.status, title=page._("Not found"), detail=page.error(exc))
    return page.render(
        "machine.html",
        status,
        title=page._("Machine {id}", id=device_id),
        **data,
        errors=errors or {},
        values=values or data["loyalty"] or {},
        provision=provision or {"broker": os.environ.get("TAPGIFT_DEVICE_BROKER", "")},
    )


@router.get("/machines/{device_id}")
def machine(page: MachinesPage, device_id: str, saved: str | None = None):
    """One controller: its health, its last commands, how much of the deny list it holds, and
    its part in the loyalty engine (the outlet it sells for, its article, a gift it hands out)."""
    if saved == "loyalty":
        page.messages.append(("ok", page._("Loyalty settings saved.")))
    elif saved == "cleared":
        page.messages.append(("ok", page._("The machine charges its unit price only.")))
    return _show_machine(page, device_id)


@router.post("/machines/{device_id}/loyalty", name="set_loyalty", dependencies=[Depends(same_origin)])
def set_loyalty(form: Form, page: ChangePage, device_id: str):
    """As PUT /api/v1/devices/{id}/loyalty."""
    values = {k: form.get(k, "").strip() for k in ("outlet_id", "article_id", "gift_item")}
    errors = {}
    for name, text in (("outlet_id", "Choose an outlet."), ("article_id", "Choose an article.")):
        if not DEVICE_ID.fullmatch(values[name]):
            errors[name] = page._(text)
    if values["gift_item"] and not re.fullmatch(r"[A-Za-z0-9_-]{1,32}", values["gift_item"]):
        errors["gift_item"] = page._("Choose a gift item.")
    if errors:
        return _show_machine(page, device_id, 422, errors, values)
    body = {**values, "gift_item": values["gift_item"] or None}

    def current(conn: Connection) -> dict | None:
        try:
            return device_loyalty.get_settings(conn, device_id)
        except DomainError:
            return None

    try:
        page.db(body).write(
            device_loyalty.set_settings,
            device_id,
            body["outlet_id"],
            body["article_id"],
            body["gift_item"],
            before=current,
            scope=Scope(body["outlet_id"]),
        )
    except DomainError as exc:
        page.messages.append(("error", page._("Not done: {reason}", reason=page.error(exc))))
        return _show_machine(page, device_id, exc.status, values=values)
    finally:
        device_loyalty.forget()
    return RedirectResponse(f"/machines/{device_id}?saved=loyalty", status_code=303)


@router.post("/machines/{device_id}/loyalty/clear", name="clear_loyalty", dependencies=[Depends(same_origin)])
def clear_loyalty(page: ChangePage, device_id: str):
    def clear(conn: Connection) -> None:
        page.caller.check_device(conn, device_id)
        device_loyalty.clear_settings(conn, device_id)

    try:
        page.db({}).write(clear, before=lambda conn: device_loyalty.get_settings(conn, device_id))
    except DomainError as exc:
        page.messages.append(("error", page._("Not done: {reason}", reason=page.error(exc))))
        return _show_machine(page, device_id, exc.status)
    finally:
        device_loyalty.forget()
    return RedirectResponse(f"/machines/{device_id}?saved=cleared", status_code=303)


# --- the provisioning file ---------------------------------------------------------------------

PROVISION_FIELDS = ("broker", "wifi_ssid", "wifi_password", "profile", "pins", "ca")


def _json_object(text: str) -> dict | None:
    """A profile or pins field: a JSON object, {} when empty; None if it is not one."""
    if not text.strip():
        return {}
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _check_provision(page: Page, kind: str, values: dict) -> tuple[dict, dict]:
    """The file's inputs checked field by field: (errors, parsed profile and pins)."""
    _ = page._
    errors, parsed = {}, {}
    try:
        tls, _host, _port = provisioning.broker_address(values["broker"])
    except DomainError:
        errors["broker"] = _("The broker as the controllers reach it, e.g. mqtt://10.0.0.2:1883.")
        tls = False
    if not 1 <= len(values["wifi_ssid"]) <= 32:
        errors["wifi_ssid"] = _("The Wi-Fi's name (SSID), 1-32 characters.")
    if len(values["wifi_password"]) > 64:
        errors["wifi_password"] = _("At most 64 characters (empty for an open network).")
    for name in ("profile", "pins"):
        parsed[name] = _json_object(values[name])
        if parsed[name] is None:
            errors[name] = _("A JSON object such as {example}, or empty.", example='{"units": 2}')
    if parsed.get("profile") and parsed["profile"].get("kind", kind) != kind:
        errors["profile"] = _("The profile's kind must be the machine's: {kind}.", kind=kind)
    if (
        kind in provisioning.NEEDS_SENSOR
        and parsed.get("pins") is not None
        and parsed["pins"].get("sensor") is None
    ):
        errors["pins"] = _(
            "A {kind} needs its sensor's pin, e.g. {example}.", kind=kind, example='{"sensor": 4}'
        )
    if values["ca"] and "-----BEGIN CERTIFICATE-----" not in values["ca"]:
        errors["ca"] = _("A PEM certificate (-----BEGIN CERTIFICATE----- …).")
    elif tls and not values["ca"]:
        errors["ca"] = _("An mqtts:// broker needs the CA that signed its certificate.")
    return errors, parsed


def _visible_device(conn: Connection, caller: Caller, device_id: str) -> dict:
    caller.check_device(conn, device_id)
    return registry.device_row(conn, device_id)


@router.post(
    "/machines/{device_id}/provision", name="download_provisioning", dependencies=[Depends(same_origin)]
)
def download_provisioning(form: Form, page: ChangePage, device_id: str):
    """The controller's provisioning file, as `tapgift device add --out` writes it (without the
    firmware's defaults written out: the board fills them in). It holds the device's key: only
    devices.write gets it, and each download is in the audit log (the Wi-Fi password is not)."""
    values = {k: form.get(k, "") for k in PROVISION_FIELDS}
    values.update({k: values[k].strip() for k in ("broker", "wifi_ssid", "profile", "pins", "ca")})
    try:
        device = page.db().read(_visible_device, page.caller, device_id)
    except DomainError as exc:
        return page.render("error.html", exc.status, title=page._("Not found"), detail=page.error(exc))
    errors, parsed = _check_provision(page, device["kind"], values)
    if errors:
        return _show_machine(page, device_id, 422, errors=errors, provision={**values, "wifi_password": ""})
    key: dict[str, str] = {}

    def issue(conn: Connection) -> dict:
        page.caller.check_device(conn, device_id)
        key["hex"] = conn.execute(
            select(registry.DEVICES.c.key_hex).where(registry.DEVICES.c.id == device_id)
        ).scalar_one()
        return {"device": device_id, "site": device["site"]}

    body = {"broker": values["broker"], "wifi_ssid": values["wifi_ssid"], **parsed, "ca": bool(values["ca"])}
    try:
        page.db(body).write(issue)
        data = provisioning.provision_dict(
            device_id,
            device["site"],
            key["hex"],
            values["broker"],
            values["wifi_ssid"],
            values["wifi_password"],
            device["kind"],
            parsed["profile"],
            parsed["pins"],
            values["ca"] or None,
        )
    except DomainError as exc:
        page.messages.append(("error", page._("Not done: {reason}", reason=page.error(exc))))
        return _show_machine(page, device_id, exc.status, provision={**values, "wifi_password": ""})
    return Response(
        json.dumps(data, indent=2) + "\n",
        media_type="application/json",
        headers={
            "Content-Disposition": f'attachment; filename="{device_id}.json"',
            "Cache-Control": "no-store",
        },
    )
