"""Bonus-point rules made, edited and deleted on the Loyalty page: every field of seed 003 (as
POST /api/v1/bonus-rules takes them), checked here field by field so that each mistake is said
next to its field, then stored by hub.loyalty.points, which checks the rule once more.

A form's checkboxes each have their own name (`store_bar`, `in_till`, `day_0`), so the form is
read as plain fields; times are typed in the site's time zone and stored in UTC."""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import RedirectResponse
from sqlalchemy import Connection

from hub.api.deps import COALITION
from hub.console import i18n
from hub.console.web import Form, Needs, Page, same_origin
from hub.core.errors import DomainError
from hub.loyalty import catalogue, outlets, points
from hub.loyalty.point_rules import ChannelIn, ChannelOut, ExpiryKind, RuleKind
from hub.taps import device_loyalty

router = APIRouter()

RuleWrite = Annotated[Page, Needs("loyalty.write", coalition=True)]

TARGET_ROWS = 3  # empty target rows below the rule's own
MAX_TARGETS = 100
MAX_POINTS = 100_000_000  # hub/api/fields.py
MAX_DAYS = 36_600
TARGET_POINTS = 1_000_000
LINE_KINDS = ("article", "product_group", "topping", "topping_group")
ID = re.compile(r"[A-Za-z0-9_.-]{1,40}")
CHECKBOXES = ("active", "on_holidays", "include_redeemed", "include_small_quantity_surcharge")
CHECKBOXES += ("include_delivery_fee", "immediately_redeemable")


def _known_targets(conn: Connection) -> set[str]:
    """What a rule may name as a target: articles, product groups, topping groups."""
    articles = catalogue.list_articles(conn)
    known = {a["id"] for a in articles} | {a["topping_group_id"] for a in articles if a["topping_group_id"]}
    return known | {g["id"] for g in catalogue.list_groups(conn)}


def _choices(conn: Connection) -> dict:
    return {
        "outlets": outlets.list_outlets(conn),
        "articles": catalogue.list_articles(conn),
        "groups": catalogue.list_groups(conn),
        "known": _known_targets(conn),
    }


def _form_of(rule: dict, page: Page) -> dict:
    """A stored rule as the form's fields."""
    values = {
        "name": rule["name"],
        "kind": rule["kind"],
        "valid_from": _local(rule["valid_from"], page),
        "valid_to": _local(rule["valid_to"], page),
        "amount_per_point": i18n.plain_amount(rule["amount_per_point"], page.currency)
        if rule["amount_per_point"]
        else "",
        "points": str(rule["points"] or ""),
        "expiry": rule["expiry"],
        "expiry_days": "" if rule["expiry_days"] is None else str(rule["expiry_days"]),
        "expiry_date": rule["expiry_date"].isoformat() if rule["expiry_date"] else "",
    }
    values.update({name: "on" if rule[name] else "" for name in CHECKBOXES})
    values.update({f"store_{s}": "on" for s in rule["stores"]})
    values.update({f"in_{c}": "on" for c in rule["channels_in"]})
    values.update({f"out_{c}": "on" for c in rule["channels_out"]})
    values.update({f"day_{d}": "on" for d in rule["weekdays"]})
    for i, t in enumerate(rule["targets"]):
        values[f"target_id_{i}"] = t["id"]
        values[f"target_points_{i}"] = str(t["points"])
        values[f"target_vouchers_{i}"] = ", ".join(t["exclusive_voucher_types"])
        values[f"target_menu_{i}"] = "on" if t["exclude_menu_contents"] else ""
    return values


def _new_form() -> dict:
    values = {"kind": "article", "active": "on", "on_holidays": "on", "expiry": "standard"}
    values.update({f"in_{c.value}": "on" for c in ChannelIn})
    values.update({f"out_{c.value}": "on" for c in ChannelOut})
    values.update({f"day_{d}": "on" for d in range(7)})
    return values


def _local(moment: dt.datetime | None, page: Page) -> str:
    return moment.astimezone(page.tz).strftime("%Y-%m-%dT%H:%M") if moment else ""


def _moment(text: str, page: Page) -> dt.datetime | None:
    """A datetime-local field (site time) → aware UTC; ValueError if it is no time."""
    naive = dt.datetime.fromisoformat(text.strip().replace(" ", "T"))
    if naive.tzinfo is not None:
        raise ValueError(text)
    return naive.replace(tzinfo=page.tz).astimezone(dt.UTC)


def _whole(text: str, low: int, high: int) -> int | None:
    text = text.strip()
    return int(text) if text.isdigit() and low <= int(text) <= high else None


def parse(form: dict[str, str], page: Page, choices: dict) -> tuple[dict, dict]:
    """The rule the form describes (as points.create_rule takes it) and the errors by field."""
    _ = page._
    errors: dict[str, str] = {}
    name = form.get("name", "").strip()
    if not name or len(name) > 100:
        errors["name"] = _("Enter a name of at most 100 characters.")
    kind = form.get("kind", "")
    if kind not in {k.value for k in RuleKind}:
        errors["kind"] = _("Choose a kind.")
    store_ids = {o["id"] for o in choices["outlets"]}
    rule: dict = {
        "name": name,
        "kind": kind,
        "stores": sorted(s for s in store_ids if form.get(f"store_{s}")),
        "channels_in": [c.value for c in ChannelIn if form.get(f"in_{c.value}")],
        "channels_out": [c.value for c in ChannelOut if form.get(f"out_{c.value}")],
        "weekdays": [d for d in range(7) if form.get(f"day_{d}")],
        **{box: bool(form.get(box)) for box in CHECKBOXES},
    }
    for field in ("valid_from", "valid_to"):
        text = form.get(field, "").strip()
        try:
            rule[field] = _moment(text, page) if text else None
        except ValueError:
            errors[field] = _("A date and time such as 2026-07-01 10:00.")
            rule[field] = None
    if rule["valid_from"] and rule["valid_to"] and rule["valid_from"] > rule["valid_to"]:
        errors["valid_to"] = _("The end comes before the start.")
    rule["targets"] = _targets(form, kind, choices["known"], errors, _)
    rule.update(amount_per_point=0, points=0, expiry_days=None, expiry_date=None)
    rule["expiry"] = form.get("expiry", "standard")
    if rule["expiry"] not in {e.value for e in ExpiryKind}:
        errors["expiry"] = _("Choose how the points expire.")
    if kind == "basket_value":
        amount = i18n.parse_amount(form.get("amount_per_point", ""), page.currency)
        if not amount:
            errors["amount_per_point"] = _("Enter the amount that earns one point, e.g. 10.00.")
        rule["amount_per_point"] = amount or 0
    if kind == "registration":
        given = _whole(form.get("points", ""), 0, MAX_POINTS)
        if given is None:
            errors["points"] = _("Whole points from 0 to {max}.", max=MAX_POINTS)
        rule["points"] = given or 0
        if rule["expiry"] == "in_days":
            rule["expiry_days"] = _whole(form.get("expiry_days", ""), 0, MAX_DAYS)
            if rule["expiry_days"] is None:
                errors["expiry_days"] = _("Whole days from 0 to {max}.", max=MAX_DAYS)
        if rule["expiry"] == "on_date":
            try:
                rule["expiry_date"] = dt.date.fromisoformat(form.get("expiry_date", "").strip())
            except ValueError:
                errors["expiry_date"] = _("A date such as 2026-12-31.")
    return rule, errors


def _targets(form: dict[str, str], kind: str, known: set[str], errors: dict, _) -> list[dict]:
    """The target rows filled in (an empty row is left out)."""
    targets, seen = [], set()
    for i in range(MAX_TARGETS):
        if f"target_id_{i}" not in form and f"target_points_{i}" not in form:
            break
        target_id = form.get(f"target_id_{i}", "").strip()
        text = form.get(f"target_points_{i}", "").strip()
        vouchers = [v.strip() for v in form.get(f"target_vouchers_{i}", "").split(",") if v.strip()]
        menu = bool(form.get(f"target_menu_{i}"))
        if not target_id and not text and not vouchers and not menu:
            continue
        if kind not in LINE_KINDS:
            errors[f"target_id_{i}"] = _("Only article, group and topping rules have targets.")
            continue
        if not ID.fullmatch(target_id) or target_id not in known:
            errors[f"target_id_{i}"] = _("Choose an article, product group or topping group.")
        elif target_id in seen:
            errors[f"target_id_{i}"] = _("This target is named twice.")
        seen.add(target_id)
        value = _whole(text, 0, TARGET_POINTS)
        if value is None:
            errors[f"target_points_{i}"] = _("Whole points from 0 to {max}.", max=TARGET_POINTS)
        if (vouchers or menu) and kind != "article":
            errors[f"target_vouchers_{i}"] = _("Voucher and menu exclusions are for article rules only.")
        if any(not ID.fullmatch(v) for v in vouchers):
            errors[f"target_vouchers_{i}"] = _("Voucher types separated by commas, e.g. goods, points.")
        targets.append(
            {
                "id": target_id,
                "points": value or 0,
                "exclusive_voucher_types": vouchers,
                "exclude_menu_contents": menu,
            }
        )
    if kind in LINE_KINDS and not targets and "target_id_0" not in errors:
        errors["target_id_0"] = _("Name at least one target and its points.")
    return targets


def _audit_body(rule: dict) -> dict:
    """The rule as the API's JSON would carry it, for the audit log."""
    out = dict(rule)
    for name in ("valid_from", "valid_to", "expiry_date"):
        out[name] = rule[name].isoformat() if rule[name] else None
    return out


def _show(
    page: Page, values: dict, status: int = 200, errors: dict | None = None, rule_id: int | None = None
):
    choices = page.db().read(_choices)
    rows = 1 + max(
        (int(k.rsplit("_", 1)[1]) for k, v in values.items() if k.startswith("target_id_") and v.strip()),
        default=-1,
    )
    return page.render(
        "point_rule.html",
        status,
        title=page._("Bonus-point rule {id}", id=rule_id) if rule_id else page._("New bonus-point rule"),
        values=values,
        errors=errors or {},
        rule_id=rule_id,
        target_rows=rows + TARGET_ROWS,
        kinds=[k.value for k in RuleKind],
        expiries=[e.value for e in ExpiryKind],
        channels_in=[c.value for c in ChannelIn],
        channels_out=[c.value for c in ChannelOut],
        **choices,
    )


@router.get("/loyalty/point-rules/new")
def new_rule(page: RuleWrite):
    return _show(page, _new_form())


@router.post("/loyalty/point-rules", name="create_rule", dependencies=[Depends(same_origin)])
def create_rule(form: Form, page: RuleWrite):
    """As POST /api/v1/bonus-rules."""
    rule, errors = parse(form, page, page.db().read(_choices))
    if errors:
        return _show(page, form, 422, errors)
    try:
        made = page.db(_audit_body(rule)).write(points.create_rule, rule, scope=COALITION)
    except DomainError as exc:
        page.messages.append(("error", page._("Not done: {reason}", reason=page.error(exc))))
        return _show(page, form, exc.status)
    finally:
        device_loyalty.forget()
    return RedirectResponse(f"/loyalty?rule={made['id']}#points-rule-{made['id']}", status_code=303)


@router.get("/loyalty/point-rules/{rule_id}")
def edit_rule(page: RuleWrite, rule_id: int):
    try:
        rule = page.db().read(points.get_rule, rule_id)
    except DomainError as exc:
        return page.render("error.html", exc.status, title=page._("Not found"), detail=page.error(exc))
    return _show(page, _form_of(rule, page), rule_id=rule_id)


@router.post("/loyalty/point-rules/{rule_id}", name="update_rule", dependencies=[Depends(same_origin)])
def update_rule(form: Form, page: RuleWrite, rule_id: int):
    rule, errors = parse(form, page, page.db().read(_choices))
    if errors:
        return _show(page, form, 422, errors, rule_id)
    try:
        page.db(_audit_body(rule)).write(
            points.update_rule,
            rule_id,
            rule,
            before=lambda conn: points.get_rule(conn, rule_id),
            scope=COALITION,
        )
    except DomainError as exc:
        page.messages.append(("error", page._("Not done: {reason}", reason=page.error(exc))))
        return _show(page, form, exc.status, rule_id=rule_id)
    finally:
        device_loyalty.forget()
    return RedirectResponse(f"/loyalty?rule={rule_id}#points-rule-{rule_id}", status_code=303)


@router.post("/loyalty/point-rules/{rule_id}/delete", name="delete_rule", dependencies=[Depends(same_origin)])
def delete_rule(page: RuleWrite, rule_id: int):
    try:
        page.db({}).write(points.delete_rule, rule_id, scope=COALITION)
    except DomainError as exc:
        return page.render("error.html", exc.status, title=page._("Not done"), detail=page.error(exc))
    finally:
        device_loyalty.forget()
    return RedirectResponse(f"/loyalty?deleted={rule_id}#rules", status_code=303)
