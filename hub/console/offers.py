"""Discount groups, gift items and gift chain rules made on the Loyalty page (as POST
/api/v1/discount-groups, /gift-items, /gift-rules): one form each, checked here field by field so
that each mistake is said next to its field, then stored by the domain (hub.loyalty.discounts,
hub.gifts), which checks again. Discount groups and chain rules are also edited and deleted
here, gift items edited (not their id or value: the units granted are owed at it).

The forms are described as rows of fields (`F`) and drawn by one template, loyalty_form.html.
A form that makes something is audited under the REST route's name (create_discount_group,
create_item, create_rule), so the audit log lists the console's and the API's together."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import RedirectResponse
from sqlalchemy import Connection

from hub import gifts
from hub.api.deps import COALITION
from hub.console import i18n
from hub.console.web import Form, Needs, Page, same_origin
from hub.core.errors import DomainError
from hub.gifts import items as gift_items
from hub.loyalty import catalogue, discounts, outlets
from hub.taps import device_loyalty

router = APIRouter()

OfferWrite = Annotated[Page, Needs("loyalty.write", coalition=True)]

SLUG = re.compile(r"[A-Za-z0-9_.-]{1,40}")
ITEM_ID = re.compile(r"[A-Za-z0-9_-]{1,32}")
KIND = re.compile(r"[a-z_]{1,20}")
RATE_ROWS = 4
MAX_POINTS = 100_000_000


@dataclass
class F:
    """One field of a form: its name, label, and how it is drawn."""

    name: str
    label: str
    kind: str = "text"  # text, select, checkbox, checks (one box per option)
    options: tuple = ()
    hint: str = ""
    numeric: bool = False
    list: str = ""
    readonly: bool = False


def _whole(text: str, low: int, high: int) -> int | None:
    text = text.strip()
    return int(text) if text.isdigit() and low <= int(text) <= high else None


def _optional_whole(form: dict, name: str, low: int, high: int, errors: dict, message: str) -> int | None:
    text = form.get(name, "").strip()
    if not text:
        return None
    value = _whole(text, low, high)
    if value is None:
        errors[name] = message
    return value


def _kinds(text: str) -> list[str] | None:
    """Outlet kinds separated by commas; None if one is no kind."""
    kinds = [k.strip() for k in text.split(",") if k.strip()]
    return kinds if all(KIND.fullmatch(k) for k in kinds) else None


def _render(page: Page, status: int, spec: dict, values: dict, errors: dict | None = None):
    return page.render("loyalty_form.html", status, values=values, errors=errors or {}, **spec)


def _store(page: Page, spec: dict, values: dict, body: dict, fn, *args):
    """Write through the audited database; the domain's refusal is said on the form."""
    try:
        page.db(body).write(fn, *args, scope=COALITION)
    except DomainError as exc:
        page.messages.append(("error", page._("Not done: {reason}", reason=page.error(exc))))
        return _render(page, exc.status, spec, values)
    finally:
        device_loyalty.forget()
    return None


# --- discount groups ---------------------------------------------------------------------------


def _group_spec(page: Page, group_id: str | None = None) -> dict:
    _ = page._
    scopes = [(s, _(s)) for s in ("general", "revenue_group", "article")]
    rows = [[F("id", _("Group id"), readonly=group_id is not None), F("name", _("Name"))]]
    for i in range(RATE_ROWS):
        rows.append(
            [
                F(f"scope_{i}", _("Applies to") + f" {i + 1}", "select", tuple(scopes)),
                F(f"target_{i}", _("Revenue group or article") + f" {i + 1}", list="articles"),
                F(f"percent_{i}", _("Discount in %") + f" {i + 1}", numeric=True),
            ]
        )
    articles = page.db().read(catalogue.list_articles)
    edit = f"/loyalty/discount-groups/{group_id}/edit"
    return {
        "title": _("Discount group {id}", id=group_id) if group_id else _("New discount group"),
        "hint": _("Employee consumption, say, is a general rate of 100 %. An empty row is left out."),
        "action": edit if group_id else "/loyalty/discount-groups",
        "delete_action": f"/loyalty/discount-groups/{group_id}/delete" if group_id else "",
        "back": "discount-groups",
        "submit": _("Save the discount group") if group_id else _("Add the discount group"),
        "rows": rows,
        "lists": {
            "articles": sorted(
                {a["id"] for a in articles} | {a["revenue_group"] for a in articles if a.get("revenue_group")}
            )
        },
    }


def _group_form(group: dict) -> dict:
    values = {"id": group["id"], "name": group["name"]}
    for i, r in enumerate(group["rates"][:RATE_ROWS]):
        values |= {f"scope_{i}": r["scope"], f"target_{i}": r["target"], f"percent_{i}": str(r["percent"])}
    return values


def _group_rates(form: dict, page: Page, errors: dict) -> list[dict]:
    """The rate rows filled in (an empty row is left out)."""
    _ = page._
    rates = []
    for i in range(RATE_ROWS):
        scope = form.get(f"scope_{i}", "general")
        target, text = form.get(f"target_{i}", "").strip(), form.get(f"percent_{i}", "").strip()
        if not text and not target:
            continue
        if scope not in discounts.SCOPES:
            errors[f"scope_{i}"] = _("Choose what the rate applies to.")
        elif scope == "general" and target:
            errors[f"target_{i}"] = _("A general rate has no target.")
        elif scope != "general" and not SLUG.fullmatch(target):
            errors[f"target_{i}"] = _("Name the revenue group or article.")
        try:
            percent = Decimal(text.replace(",", "."))
            if not 0 <= percent <= 100 or percent.as_tuple().exponent < -2:
                raise InvalidOperation
        except InvalidOperation:
            errors[f"percent_{i}"] = _("A percentage from 0 to 100, e.g. 5 or 2.5.")
            continue
        rates.append({"scope": scope, "target": target if scope != "general" else "", "percent": percent})
    if len({(r["scope"], r["target"]) for r in rates}) != len(rates):
        errors["percent_0"] = _("Two rates apply to the same thing.")
    return rates


def _group_body(group_id: str, name: str, rates: list[dict]) -> dict:
    return {"id": group_id, "name": name, "rates": [{**r, "percent": str(r["percent"])} for r in rates]}


@router.get("/loyalty/discount-groups/new")
def new_discount_group(page: OfferWrite):
    return _render(page, 200, _group_spec(page), {})


@router.post("/loyalty/discount-groups", name="create_discount_group", dependencies=[Depends(same_origin)])
def create_discount_group(form: Form, page: OfferWrite):
    _ = page._
    errors: dict[str, str] = {}
    group_id, name = form.get("id", "").strip(), form.get("name", "").strip()
    if not SLUG.fullmatch(group_id):
        errors["id"] = _("An id is 1-40 letters, digits or _ . -.")
    if len(name) > 100:
        errors["name"] = _("At most 100 characters.")
    rates = _group_rates(form, page, errors)
    spec = _group_spec(page)
    if errors:
        return _render(page, 422, spec, form, errors)
    body = _group_body(group_id, name, rates)
    refused = _store(page, spec, form, body, discounts.create_group, group_id, name, rates)
    return refused or RedirectResponse("/loyalty?made=discount-group#discount-groups", status_code=303)


@router.get("/loyalty/discount-groups/{group_id}/edit")
def edit_discount_group(page: OfferWrite, group_id: str):
    try:
        group = page.db().read(discounts.get_group, group_id)
    except DomainError as exc:
        return page.render("error.html", exc.status, title=page._("Not found"), detail=page.error(exc))
    return _render(page, 200, _group_spec(page, group_id), _group_form(group))


@router.post(
    "/loyalty/discount-groups/{group_id}/edit",
    name="update_discount_group",
    dependencies=[Depends(same_origin)],
)
def update_discount_group(form: Form, page: OfferWrite, group_id: str):
    errors: dict[str, str] = {}
    name = form.get("name", "").strip()
    if len(name) > 100:
        errors["name"] = page._("At most 100 characters.")
    rates = _group_rates(form, page, errors)
    spec, shown = _group_spec(page, group_id), {**form, "id": group_id}
    if errors:
        return _render(page, 422, spec, shown, errors)
    try:
        page.db(_group_body(group_id, name, rates)).write(
            discounts.update_group,
            group_id,
            name,
            rates,
            before=lambda conn: discounts.get_group(conn, group_id),
            scope=COALITION,
        )
    except DomainError as exc:
        page.messages.append(("error", page._("Not done: {reason}", reason=page.error(exc))))
        return _render(page, exc.status, spec, shown)
    return RedirectResponse("/loyalty?made=discount-group-saved#discount-groups", status_code=303)


@router.post(
    "/loyalty/discount-groups/{group_id}/delete",
    name="delete_discount_group",
    dependencies=[Depends(same_origin)],
)
def delete_discount_group(page: OfferWrite, group_id: str):
    try:
        page.db({}).write(discounts.delete_group, group_id, scope=COALITION)
    except DomainError as exc:
        return page.render("error.html", exc.status, title=page._("Not done"), detail=page.error(exc))
    return RedirectResponse("/loyalty?made=discount-group-deleted#discount-groups", status_code=303)


# --- gift items --------------------------------------------------------------------------------


def _item_spec(page: Page, item_id: str | None = None) -> dict:
    _ = page._
    outlet_rows = page.db().read(outlets.list_outlets)
    articles = page.db().read(catalogue.list_articles)
    fixed = item_id is not None  # an item's id and value stay: its granted units are owed at it
    return {
        "title": _("Gift item {id}", id=item_id) if fixed else _("New gift item"),
        "hint": _(
            "What a chain rule or staff give, or a card buys with points; its value is what outlets settle."
        ),
        "action": f"/loyalty/gift-items/{item_id}/edit" if fixed else "/loyalty/gift-items",
        "back": "gift-items",
        "submit": _("Save the gift item") if fixed else _("Add the gift item"),
        "rows": [
            [
                F("id", _("Gift id"), hint=_("e.g. DRINK: letters, digits, _ or -"), readonly=fixed),
                F("name", _("Name")),
            ],
            [
                F("value", _("Value") + f" ({page.currency})", numeric=True, readonly=fixed),
                F(
                    "voucher_type",
                    _("Voucher type"),
                    "select",
                    (("goods", _("goods")), ("service", _("service"))),
                ),
                F("article_id", _("Article it pays in a basket (optional)"), list="articles"),
            ],
            [
                F(
                    "redeem_kinds",
                    _("Redeemable at outlets of kinds"),
                    hint=_("Separated by commas, e.g. bar, shop."),
                ),
                F(
                    "redeem_outlets",
                    _("… and at these outlets"),
                    "checks",
                    tuple((o["id"], o["name"] or o["id"]) for o in outlet_rows),
                ),
            ],
            [
                F("points_price", _("Points price (optional)"), numeric=True),
                F("points_level", _("Points a card must have to choose it (optional)"), numeric=True),
                F("valid_days", _("Valid for days (optional)"), numeric=True),
            ],
        ],
        "lists": {"articles": [a["id"] for a in articles]},
        "outlet_ids": [o["id"] for o in outlet_rows],
    }


def _item_form(item: dict, page: Page) -> dict:
    """A stored gift item as the form's fields."""
    values = {
        "id": item["id"],
        "name": item["name"],
        "value": i18n.plain_amount(item["value"], page.currency),
        "voucher_type": item["voucher_type"],
        "article_id": item["article_id"] or "",
        "redeem_kinds": ", ".join(item["redeem_kinds"]),
    }
    for name in ("points_price", "points_level", "valid_days"):
        values[name] = "" if item[name] is None else str(item[name])
    return values | {f"redeem_outlets_{o}": "on" for o in item["redeem_outlets"]}


def _gift_item(form: dict, page: Page, spec: dict, item_id: str | None = None) -> tuple[dict, dict]:
    """The gift item the form describes (as gifts.create_item takes it) and the errors; editing
    `item_id`, its id and value are not read from the form."""
    _ = page._
    errors: dict[str, str] = {}
    item = {k: form.get(k, "").strip() for k in ("id", "name", "article_id", "voucher_type")}
    value = None
    if item_id is None:
        if not ITEM_ID.fullmatch(item["id"]):
            errors["id"] = _("1-32 letters, digits, _ or -.")
        value = i18n.parse_amount(form.get("value", ""), page.currency)
        if value is None:
            errors["value"] = _("Enter an amount such as 4.00.")
    if len(item["name"]) > 100:
        errors["name"] = _("At most 100 characters.")
    item["voucher_type"] = item["voucher_type"] or "goods"
    if item["voucher_type"] not in ("goods", "service"):
        errors["voucher_type"] = _("Choose goods or service.")
    if item["article_id"] and not SLUG.fullmatch(item["article_id"]):
        errors["article_id"] = _("Choose an article.")
    kinds = _kinds(form.get("redeem_kinds", ""))
    if kinds is None:
        errors["redeem_kinds"] = _("Outlet kinds are small letters or _, separated by commas.")
    whole = _("A whole number from {low} to {high}, or empty.")
    points_price = _optional_whole(
        form, "points_price", 0, MAX_POINTS, errors, whole.format(low=0, high=MAX_POINTS)
    )
    points_level = _optional_whole(
        form, "points_level", 0, MAX_POINTS, errors, whole.format(low=0, high=MAX_POINTS)
    )
    valid_days = _optional_whole(form, "valid_days", 1, 3660, errors, whole.format(low=1, high=3660))
    if points_level is not None and points_price is None and "points_price" not in errors:
        errors["points_price"] = _("A points level needs a points price.")
    body = {
        **item,
        "article_id": item["article_id"] or None,
        "value": value,
        "redeem_kinds": kinds,
        "redeem_outlets": [o for o in spec["outlet_ids"] if form.get(f"redeem_outlets_{o}")],
        "points_price": points_price,
        "points_level": points_level,
        "valid_days": valid_days,
    }
    if item_id is not None:
        body.pop("id")
        body.pop("value")
    return body, errors


@router.get("/loyalty/gift-items/new")
def new_gift_item(page: OfferWrite):
    return _render(page, 200, _item_spec(page), {"voucher_type": "goods"})


@router.post("/loyalty/gift-items", name="create_item", dependencies=[Depends(same_origin)])
def create_gift_item(form: Form, page: OfferWrite):
    spec = _item_spec(page)
    body, errors = _gift_item(form, page, spec)
    if errors:
        return _render(page, 422, spec, form, errors)
    refused = _store(page, spec, form, body, gifts.create_item, body, page.currency)
    return refused or RedirectResponse("/loyalty?made=gift-item#gift-items", status_code=303)


@router.get("/loyalty/gift-items/{item_id}/edit")
def edit_gift_item(page: OfferWrite, item_id: str):
    try:
        item = page.db().read(gifts.get_item, item_id)
    except DomainError as exc:
        return page.render("error.html", exc.status, title=page._("Not found"), detail=page.error(exc))
    return _render(page, 200, _item_spec(page, item_id), _item_form(item, page))


@router.post(
    "/loyalty/gift-items/{item_id}/edit", name="update_gift_item", dependencies=[Depends(same_origin)]
)
def update_gift_item(form: Form, page: OfferWrite, item_id: str):
    spec = _item_spec(page, item_id)
    try:
        stored = _item_form(page.db().read(gifts.get_item, item_id), page)
    except DomainError as exc:
        return page.render("error.html", exc.status, title=page._("Not found"), detail=page.error(exc))
    shown = {**form, "id": stored["id"], "value": stored["value"]}  # these two are not changed
    body, errors = _gift_item(form, page, spec, item_id)
    if errors:
        return _render(page, 422, spec, shown, errors)
    try:
        page.db(body).write(
            gift_items.update_item,
            item_id,
            body,
            before=lambda conn: gifts.get_item(conn, item_id),
            scope=COALITION,
        )
    except DomainError as exc:
        page.messages.append(("error", page._("Not done: {reason}", reason=page.error(exc))))
        return _render(page, exc.status, spec, shown)
    finally:
        device_loyalty.forget()
    return RedirectResponse("/loyalty?made=gift-item-saved#gift-items", status_code=303)


# --- chain rules ---------------------------------------------------------------------------


def _chain_spec(page: Page, rule_id: int | None = None) -> dict:
    _ = page._

    def read(conn: Connection) -> tuple:
        return outlets.list_sites(conn), outlets.list_outlets(conn), gifts.list_items(conn)

    sites, outlet_rows, items = page.db().read(read)
    return {
        "title": _("Gift chain rule {id}", id=rule_id) if rule_id else _("New gift chain rule"),
        "hint": _(
            "Activities within one visit at the outlets chosen earn the gift (no outlet or kind chosen: every outlet counts)."
        ),
        "action": f"/loyalty/chain-rules/{rule_id}" if rule_id else "/loyalty/chain-rules",
        "delete_action": f"/loyalty/chain-rules/{rule_id}/delete" if rule_id else "",
        "back": "chain-rules",
        "submit": _("Save the chain rule") if rule_id else _("Add the chain rule"),
        "rows": [
            [
                F("name", _("Name")),
                F("site_id", _("Site"), "select", tuple((s["id"], s["name"] or s["id"]) for s in sites)),
                F("active", _("Active"), "checkbox"),
            ],
            [
                F("activities", _("Activities that earn it"), numeric=True),
                F("item_id", _("Gift"), "select", tuple((i["id"], i["name"] or i["id"]) for i in items)),
                F("units", _("Units given"), numeric=True),
            ],
            [
                F(
                    "outlet_kinds",
                    _("Counting at outlets of kinds"),
                    hint=_("Separated by commas, e.g. bar, shop."),
                ),
                F(
                    "outlet_ids",
                    _("… and at these outlets"),
                    "checks",
                    tuple((o["id"], o["name"] or o["id"]) for o in outlet_rows),
                ),
            ],
            [
                F("repeat", _("Again every so many activities"), "checkbox"),
                F("max_per_visit", _("At most per visit (optional)"), numeric=True),
            ],
        ],
        "lists": {},
        "outlet_ids": [o["id"] for o in outlet_rows],
    }


def _chain_form(rule: dict) -> dict:
    """A stored chain rule as the form's fields."""
    values = {k: str(rule[k]) for k in ("name", "site_id", "item_id", "activities", "units")}
    values |= {
        "active": "on" if rule["active"] else "",
        "repeat": "on" if rule["repeat"] else "",
        "outlet_kinds": ", ".join(rule["outlet_kinds"]),
        "max_per_visit": "" if rule["max_per_visit"] is None else str(rule["max_per_visit"]),
    }
    return values | {f"outlet_ids_{o}": "on" for o in rule["outlet_ids"]}


def _chain_rule(form: dict, page: Page, spec: dict) -> tuple[dict, dict]:
    """The chain rule the form describes (as gifts.create_rule takes it) and the errors."""
    _ = page._
    errors: dict[str, str] = {}
    name = form.get("name", "").strip()
    if not name or len(name) > 100:
        errors["name"] = _("Enter a name of at most 100 characters.")
    site_id, item_id = form.get("site_id", "").strip(), form.get("item_id", "").strip()
    if not SLUG.fullmatch(site_id):
        errors["site_id"] = _("Choose a site.")
    if not ITEM_ID.fullmatch(item_id):
        errors["item_id"] = _("Choose a gift item.")
    activities = _whole(form.get("activities", ""), 1, 1000)
    if activities is None:
        errors["activities"] = _("A whole number from {low} to {high}.", low=1, high=1000)
    units = _whole(form.get("units", "") or "1", 1, 1000)
    if units is None:
        errors["units"] = _("A whole number from {low} to {high}.", low=1, high=1000)
    kinds = _kinds(form.get("outlet_kinds", ""))
    if kinds is None:
        errors["outlet_kinds"] = _("Outlet kinds are small letters or _, separated by commas.")
    whole = _("A whole number from {low} to {high}, or empty.")
    max_per_visit = _optional_whole(
        form, "max_per_visit", 1, 1_000_000, errors, whole.format(low=1, high=1_000_000)
    )
    rule = {
        "name": name,
        "site_id": site_id,
        "active": bool(form.get("active")),
        "activities": activities,
        "outlet_kinds": kinds,
        "outlet_ids": [o for o in spec["outlet_ids"] if form.get(f"outlet_ids_{o}")],
        "item_id": item_id,
        "units": units,
        "repeat": bool(form.get("repeat")),
        "max_per_visit": max_per_visit,
    }
    return rule, errors


@router.get("/loyalty/chain-rules/new")
def new_chain_rule(page: OfferWrite):
    return _render(page, 200, _chain_spec(page), {"active": "on", "units": "1"})


@router.post("/loyalty/chain-rules", name="create_rule", dependencies=[Depends(same_origin)])
def create_chain_rule(form: Form, page: OfferWrite):
    spec = _chain_spec(page)
    rule, errors = _chain_rule(form, page, spec)
    if errors:
        return _render(page, 422, spec, form, errors)
    refused = _store(page, spec, form, rule, gifts.create_rule, rule)
    return refused or RedirectResponse("/loyalty?made=chain-rule#chain-rules", status_code=303)


@router.get("/loyalty/chain-rules/{rule_id}")
def edit_chain_rule(page: OfferWrite, rule_id: int):
    try:
        rule = page.db().read(gifts.get_rule, rule_id)
    except DomainError as exc:
        return page.render("error.html", exc.status, title=page._("Not found"), detail=page.error(exc))
    return _render(page, 200, _chain_spec(page, rule_id), _chain_form(rule))


@router.post("/loyalty/chain-rules/{rule_id}", name="update_chain_rule", dependencies=[Depends(same_origin)])
def update_chain_rule(form: Form, page: OfferWrite, rule_id: int):
    spec = _chain_spec(page, rule_id)
    rule, errors = _chain_rule(form, page, spec)
    if errors:
        return _render(page, 422, spec, form, errors)
    try:
        page.db(rule).write(
            gift_items.update_rule,
            rule_id,
            rule,
            before=lambda conn: gifts.get_rule(conn, rule_id),
            scope=COALITION,
        )
    except DomainError as exc:
        page.messages.append(("error", page._("Not done: {reason}", reason=page.error(exc))))
        return _render(page, exc.status, spec, form)
    finally:
        device_loyalty.forget()
    return RedirectResponse("/loyalty?made=chain-rule-saved#chain-rules", status_code=303)


@router.post(
    "/loyalty/chain-rules/{rule_id}/delete", name="delete_chain_rule", dependencies=[Depends(same_origin)]
)
def delete_chain_rule(page: OfferWrite, rule_id: int):
    try:
        page.db({}).write(gift_items.delete_rule, rule_id, scope=COALITION)
    except DomainError as exc:
        return page.render("error.html", exc.status, title=page._("Not done"), detail=page.error(exc))
    finally:
        device_loyalty.forget()
    return RedirectResponse("/loyalty?made=chain-rule-deleted#chain-rules", status_code=303)
