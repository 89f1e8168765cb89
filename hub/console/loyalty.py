"""The Loyalty page: sites and outlets, the top-up bonus tiers (edited here, as PUT
/api/v1/topup-tiers: they concern every outlet, so only an operator bound to no outlet or site
changes them), and the bonus-point rules with their main fields.

The Money page is hub/console/money.py."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse
from sqlalchemy import Connection

from hub import gifts
from hub.api.deps import COALITION
from hub.console import i18n
from hub.console.web import Form, Needs, Page, same_origin
from hub.core.clock import utcnow
from hub.core.errors import DomainError
from hub.loyalty import catalogue, discounts, outlets, points
from hub.loyalty.point_rules import ChannelIn, ChannelOut
from hub.sales import baskets
from hub.wallets import topup_bonus

router = APIRouter()

LoyaltyPage = Annotated[Page, Needs("loyalty.read")]
LoyaltyWrite = Annotated[Page, Needs("loyalty.write")]
BLANK_TIERS = 2  # empty rows to add tiers in
PREVIEW_LINES = 4  # basket lines of the preview form
SLUG = re.compile(r"[A-Za-z0-9_.-]{1,40}")


def _loyalty(conn: Connection, currency: str) -> dict:
    return {
        "sites": outlets.list_sites(conn),
        "outlets": outlets.list_outlets(conn),
        "tiers": topup_bonus.get_tiers(conn, currency),
        "rules": points.list_rules(conn),
        "articles": catalogue.list_articles(conn),
        "discount_groups": discounts.list_groups(conn),
        "gift_items": gifts.list_items(conn),
        "chain_rules": gifts.list_rules(conn),
    }


def _show_loyalty(
    page: Page,
    status: int = 200,
    rows: list[dict] | None = None,
    errors: dict | None = None,
    basket: dict | None = None,
    quote: dict | None = None,
    outlet: dict | None = None,
):
    data = page.db().read(_loyalty, page.currency)
    if rows is None:
        rows = [
            {"min_amount": i18n.plain_amount(t["min_amount"], page.currency), "percent": str(t["percent"])}
            for t in data["tiers"]
        ]
    rows = rows + [{"min_amount": "", "percent": ""}] * BLANK_TIERS
    return page.render(
        "loyalty.html",
        status,
        title=page._("Loyalty"),
        **data,
        rows=rows,
        errors=errors or {},
        may_edit=page.may("loyalty.write") and not page.caller.scoped,
        basket=basket or {"channel_in": "till", "channel_out": "counter"},
        quote=quote,
        outlet=outlet or {"kind": "shop"},
        channels_in=[c.value for c in ChannelIn],
        channels_out=[c.value for c in ChannelOut],
        preview_lines=PREVIEW_LINES,
    )


# What hub.console.offers made, said on the Loyalty page it leads back to.
MADE = {
    "discount-group": "Discount group added.",
    "gift-item": "Gift item added.",
    "chain-rule": "Chain rule added.",
    "chain-rule-saved": "Chain rule saved.",
    "gift-item-saved": "Gift item saved.",
    "discount-group-saved": "Discount group saved.",
    "discount-group-deleted": "Discount group deleted.",
    "chain-rule-deleted": "Chain rule deleted.",
}


@router.get("/loyalty")
def loyalty(
    page: LoyaltyPage,
    saved: str | None = None,
    outlet: str | None = None,
    rule: int | None = None,
    deleted: int | None = None,
    made: str | None = None,
):
    if made in MADE:
        page.messages.append(("ok", page._(MADE[made])))
    if rule is not None:
        page.messages.append(("ok", page._("Bonus-point rule {id} saved.", id=rule)))
    if deleted is not None:
        page.messages.append(("ok", page._("Bonus-point rule {id} deleted.", id=deleted)))
    if saved:
        page.messages.append(("ok", page._("Top-up tiers saved.")))
    if outlet and SLUG.fullmatch(outlet):
        page.messages.append(("ok", page._("Outlet {id} added.", id=outlet)))
    return _show_loyalty(page)


@router.post("/loyalty/tiers", name="set_topup_tiers", dependencies=[Depends(same_origin)])
def set_tiers(form: Form, page: LoyaltyWrite):
    """Replace the tiers with the rows filled in (an empty row is left out)."""
    rows, tiers, errors = [], [], {}
    for i in range(50):
        amount, percent = form.get(f"min_amount_{i}"), form.get(f"percent_{i}")
        if amount is None and percent is None:
            break
        amount, percent = (amount or "").strip(), (percent or "").strip().replace(",", ".")
        if not amount and not percent:
            continue
        rows.append({"min_amount": amount, "percent": percent})
        n = len(rows) - 1
        cents = i18n.parse_amount(amount, page.currency)
        if cents is None:
            errors[f"min_amount_{n}"] = page._("Enter an amount such as 50 or 50.00.")
        try:
            value = Decimal(percent)
            if not 0 <= value <= 100 or value.as_tuple().exponent < -2:
                raise InvalidOperation
        except InvalidOperation:
            errors[f"percent_{n}"] = page._("A percentage from 0 to 100, e.g. 5 or 2.5.")
            value = None
        if cents is not None and value is not None:
            tiers.append({"min_amount": cents, "percent": value})
    if len({t["min_amount"] for t in tiers}) != len(tiers):
        errors["tiers"] = page._("Two tiers start at the same amount.")
    if errors:
        return _show_loyalty(page, 422, rows, errors)
    body = [{"min_amount": t["min_amount"], "percent": str(t["percent"])} for t in tiers]
    try:
        page.db({"tiers": body}).write(
            topup_bonus.set_tiers,
            page.currency,
            tiers,
            before=lambda conn: topup_bonus.get_tiers(conn, page.currency),
            scope=COALITION,
        )
    except DomainError as exc:
        page.messages.append(("error", page._("Not done: {reason}", reason=page.error(exc))))
        return _show_loyalty(page, exc.status, rows)
    return RedirectResponse("/loyalty?saved=1", status_code=303)


SitesWrite = Annotated[Page, Needs("sites.write")]
OUTLET_KIND = re.compile(r"[a-z_]{1,20}")


@router.post("/loyalty/outlets", name="create_outlet", dependencies=[Depends(same_origin)])
def create_outlet(form: Form, page: SitesWrite):
    """An outlet of a site, with its revenue account (as POST /api/v1/outlets)."""
    values = {k: form.get(k, "").strip() for k in ("id", "site_id", "name", "kind")}
    errors = {}
    if not SLUG.fullmatch(values["id"]):
        errors["outlet-id"] = page._("An id is 1-40 letters, digits or _ . -.")
    if not SLUG.fullmatch(values["site_id"]):
        errors["outlet-site"] = page._("Choose a site.")
    if not OUTLET_KIND.fullmatch(values["kind"]):
        errors["outlet-kind"] = page._("A kind is 1-20 small letters or _, e.g. bar, shop, slide.")
    if len(values["name"]) > 100:
        errors["outlet-name"] = page._("At most 100 characters.")
    if errors:
        return _show_loyalty(page, 422, errors=errors, outlet=values)
    try:
        page.db(values).write(
            outlets.create_outlet,
            page.currency,
            values["id"],
            values["site_id"],
            values["name"],
            values["kind"],
        )
    except DomainError as exc:
        page.messages.append(("error", page._("Not done: {reason}", reason=page.error(exc))))
        return _show_loyalty(page, exc.status, outlet=values)
    return RedirectResponse(f"/loyalty?outlet={values['id']}#outlets", status_code=303)


def _set_active(page: Page, kind: str, rule_id: int, active: bool):
    set_active = points.set_active if kind == "points" else gifts.set_rule_active
    get = points.get_rule if kind == "points" else gifts.get_rule
    try:
        page.db({"active": active}).write(
            set_active, rule_id, active, before=lambda conn: get(conn, rule_id), scope=COALITION
        )
    except DomainError as exc:
        page.messages.append(("error", page._("Not done: {reason}", reason=page.error(exc))))
        return _show_loyalty(page, exc.status)
    return RedirectResponse(f"/loyalty#{kind}-rule-{rule_id}", status_code=303)


@router.post("/loyalty/point-rules/{rule_id}/activate", name="activate", dependencies=[Depends(same_origin)])
def activate_point_rule(page: LoyaltyWrite, rule_id: int):
    """As POST /api/v1/bonus-rules/{id}/activate."""
    return _set_active(page, "points", rule_id, True)


@router.post(
    "/loyalty/point-rules/{rule_id}/deactivate", name="deactivate", dependencies=[Depends(same_origin)]
)
def deactivate_point_rule(page: LoyaltyWrite, rule_id: int):
    return _set_active(page, "points", rule_id, False)


@router.post("/loyalty/chain-rules/{rule_id}/activate", name="activate", dependencies=[Depends(same_origin)])
def activate_chain_rule(page: LoyaltyWrite, rule_id: int):
    """As POST /api/v1/gift-rules/{id}/activate."""
    return _set_active(page, "chain", rule_id, True)


@router.post(
    "/loyalty/chain-rules/{rule_id}/deactivate", name="deactivate", dependencies=[Depends(same_origin)]
)
def deactivate_chain_rule(page: LoyaltyWrite, rule_id: int):
    return _set_active(page, "chain", rule_id, False)


@router.get("/loyalty/preview")
def preview(page: LoyaltyPage, request: Request):
    """What a basket would earn now, under the rules as they stand: the quote a till gets
    (hub.sales.baskets.quote), booking nothing."""
    q = request.query_params
    basket = {k: q.get(k, "").strip() for k in ("card_uid", "outlet_id", "channel_in", "channel_out")}
    errors, lines = {}, []
    if not _card_uid(basket["card_uid"]):
        errors["card_uid"] = page._("Enter a card UID (4-64 letters, digits, _ : . -).")
    if not SLUG.fullmatch(basket["outlet_id"]):
        errors["outlet_id"] = page._("Choose an outlet.")
    if basket["channel_in"] not in {c.value for c in ChannelIn}:
        basket["channel_in"] = ChannelIn.TILL.value
    if basket["channel_out"] not in {c.value for c in ChannelOut}:
        basket["channel_out"] = ChannelOut.COUNTER.value
    for i in range(PREVIEW_LINES):
        article, quantity = q.get(f"article_{i}", "").strip(), q.get(f"quantity_{i}", "").strip() or "1"
        basket[f"article_{i}"], basket[f"quantity_{i}"] = article, quantity
        if not article:
            continue
        if not SLUG.fullmatch(article):
            errors[f"article_{i}"] = page._("Choose an article.")
        elif not quantity.isdigit() or not 1 <= int(quantity) <= 10_000:
            errors[f"quantity_{i}"] = page._("A quantity from 1 to 10000.")
        else:
            lines.append(
                {
                    "line_id": None,
                    "article_id": article,
                    "quantity": int(quantity),
                    "kind": "article",
                    "parent_line_id": None,
                }
            )
    if not lines and not any(k.startswith("article_") for k in errors):
        errors["article_0"] = page._("Choose an article.")
    if errors:
        return _show_loyalty(page, 422, errors=errors, basket=basket)
    req = {
        "card_uid": _card_uid(basket["card_uid"]),
        "outlet_id": basket["outlet_id"],
        "counter_id": None,
        "channel_in": basket["channel_in"],
        "channel_out": basket["channel_out"],
        "lines": lines,
        "redeem_points": 0,
        "small_quantity_surcharge": 0,
        "delivery_fee": 0,
        "vouchers": [],
        "voucher_codes": [],
    }
    try:
        quote = page.db().read(baskets.quote, req, utcnow())
    except DomainError as exc:
        page.messages.append(("error", page._("Not done: {reason}", reason=page.error(exc))))
        return _show_loyalty(page, exc.status, basket=basket)
    return _show_loyalty(page, basket=basket, quote=quote)


def _card_uid(raw: str) -> str | None:
    return raw.upper() if re.fullmatch(r"[0-9A-Za-z_:.-]{4,64}", raw or "") else None
