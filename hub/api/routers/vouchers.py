"""Vouchers (/api/v1/vouchers, seed 001): issue, look up, check a code, redeem at a till or web
shop, credit to a card, print, e-mail, cancel. hub.vouchers."""

from __future__ import annotations

import base64
import datetime as dt
from decimal import Decimal
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Request, Response
from pydantic import BaseModel, Field
from sqlalchemy import Connection

from hub.access.callers import Caller
from hub.api.auth import Allowed
from hub.api.deps import COALITION, Currency, DbDep, Now, Scope
from hub.api.fields import MAX_POINTS, CardUid, Flag, Key, Minor, Moment, Slug
from hub.core.errors import Conflict, Forbidden, Invalid
from hub.core.settings import Settings
from hub.loyalty.point_rules import ChannelIn
from hub.vouchers import campaigns, codes, delivery, redeem, store

router = APIRouter(tags=["vouchers"])

VoucherId = Annotated[
    str, Path(pattern=r"^[A-Z2-7]{16}$", description="the voucher's id (its code's serial)")
]
Code = Annotated[
    str,
    Field(
        pattern=r"^[A-Za-z0-9-]{1,80}$",
        description="the voucher's code as scanned (TGV-K-VALUE-UNTIL-SERIAL-TAG), in either case",
    ),
]
Email = Annotated[str, Field(pattern=r"^[^@\s<>,;]{1,64}@[^@\s<>,;]{1,189}$", max_length=254)]
Text = Annotated[str, Field(max_length=500)]


class VoucherSettings:
    """What the routes need of the hub's settings: the signing secret and the mail server.
    `create_app` callers (tests) may set `app.state.voucher_settings`; otherwise they are read
    once from the TAPGIFT_* environment (hub/core/settings.py)."""

    def __init__(self, secret: str | None, mail: delivery.MailSettings):
        self.secret = secret or None
        self.mail = mail


def _settings(request: Request) -> VoucherSettings:
    found = getattr(request.app.state, "voucher_settings", None)
    if found is None:
        s = Settings()
        found = VoucherSettings(s.voucher_secret, delivery.MailSettings(s.smtp, s.mail_from))
        request.app.state.voucher_settings = found
    return found


class VoucherIn(BaseModel):
    kind: Literal["money", "points", "goods", "discount"] = Field(
        description="money or points (a value voucher), goods (an article or a service), discount"
    )
    amount: int | None = Field(
        None,
        ge=1,
        le=MAX_POINTS,
        strict=True,
        description="money: minor units; points: points; discount: minor units off (or give percent)",
    )
    units: int | None = Field(None, ge=1, le=1000, strict=True, description="goods: how many (default 1)")
    percent: Decimal | None = Field(
        None,
        gt=0,
        le=100,
        max_digits=5,
        decimal_places=2,
        allow_inf_nan=False,
        description="discount: percent off",
    )
    max_discount: Minor | None = Field(None, description="a percent discount's cap, minor units")
    article_ids: list[Slug] = Field([], max_length=100, description="limited to these articles (goods: buys)")
    group_ids: list[Slug] = Field([], max_length=100, description="… or these product groups; none: any")
    valid_from: Moment | None = None
    valid_to: Moment | None = Field(None, description="redeemable before this moment")
    online_only: Flag = Field(False, description="redeemable only by a web shop or app (channel_in)")
    transferable: Flag = Field(True, description="false: redeemable only with card_uid")
    card_uid: CardUid | None = Field(None, description="the card it is issued to")
    outlet_id: Slug | None = Field(
        None, description="the issuing outlet, which pays its value; none: the coalition"
    )
    recipient_name: Annotated[str, Field(max_length=100)] = ""
    recipient_email: Email | None = None
    conditions: Text = Field("", description="printed on the voucher")


class RedemptionView(BaseModel):
    id: int
    channel: str = Field(
        description="till, webshop, app; card (credited to it); credit (on a basket); refund"
    )
    outlet_id: str | None
    counter_id: str | None
    card_uid: str | None
    basket_id: str | None = Field(None, description="the paid basket it was used in or credited on")
    caller: str
    used: int
    value: int
    at: dt.datetime
    lines: list[dict]


class DeliveryView(BaseModel):
    channel: str
    recipient: str
    caller: str
    at: dt.datetime


class VoucherOut(BaseModel):
    id: str
    code: str = Field(description="print it as QR (GET /vouchers/{id}/qr) or hand it over")
    kind: str
    ledger: str
    face_value: int = Field(
        description="money: minor units; points; goods: units; discount: amount (0: percent)"
    )
    percent: Decimal | None
    max_discount: int | None
    remaining: int = Field(description="what is left: minor units, points, or uses (goods: units)")
    article_ids: list[str]
    group_ids: list[str]
    valid_from: dt.datetime | None
    valid_to: dt.datetime | None
    online_only: bool
    transferable: bool
    card_uid: str | None
    outlet_id: str | None
    recipient_name: str
    recipient_email: str
    conditions: str
    issued_by: str
    issued_at: dt.datetime
    cancelled_at: dt.datetime | None
    campaign_id: str | None = None
    status: Literal[store.STATUSES]  # type: ignore[valid-type]
    redemptions: list[RedemptionView]
    deliveries: list[DeliveryView]
    repeated: bool = False


class CheckOut(BaseModel):
    signature: Literal["valid"] = "valid"
    voucher: VoucherOut


class LineIn(BaseModel):
    line_id: Slug | None = Field(None, description="default: the line's position, 1-based")
    article_id: Slug
    quantity: int = Field(1, ge=1, le=10_000, strict=True)


class RedeemIn(BaseModel):
    code: Code
    outlet_id: Slug
    counter_id: Slug | None = Field(None, description="the till it is redeemed at")
    channel_in: ChannelIn = Field(ChannelIn.TILL, description="webshop or app: an online purchase")
    card_uid: CardUid | None = Field(
        None, description="the card presented (a non-transferable voucher needs it)"
    )
    lines: list[LineIn] = Field(
        [],
        max_length=500,
        description="the basket's lines, priced from the catalogue; a limited voucher needs them",
    )
    amount: int | None = Field(
        None,
        ge=1,
        le=MAX_POINTS,
        strict=True,
        description="money: what to pay with it; points: what to credit",
    )


class CoveredLine(BaseModel):
    line_id: str
    article_id: str
    units: int | None = None
    value: int | None = None


class RedeemOut(BaseModel):
    redemption_id: int
    voucher_id: str
    kind: str
    channel: str
    outlet_id: str | None
    counter_id: str | None
    card_uid: str | None
    used: int = Field(description="taken from the voucher: minor units, points, or uses")
    value: int = Field(
        description="money booked to the outlet's revenue (a credit on a basket: onto the card's wallet), "
        "minor units"
    )
    lines: list[CoveredLine]
    remaining: int
    status: str
    at: dt.datetime
    basket_id: str | None = Field(None, description="the basket a credit was given on")
    repeated: bool


class CreditIn(BaseModel):
    code: Code = Field(description="a discount voucher's code")
    basket_id: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$", description="the paid basket")]


class DeliverIn(BaseModel):
    channel: Literal["card", "email", "print"] = Field(
        description="card: credited straight to the card (money, points) or bound to it; email: the "
        "code as image and the PDF over SMTP; print: the PDF (GET /vouchers/{id}/pdf) was handed over"
    )
    card_uid: CardUid | None = None
    email: Email | None = Field(None, description="default: the voucher's recipient_email")


class CodeKeyOut(BaseModel):
    key: str = Field(description="base64 of the HMAC-SHA256 key the codes' tags are made with")
    format: str


@router.post("/vouchers", response_model=VoucherOut, status_code=201)
def issue_voucher(
    caller: Allowed.vouchers_issue,
    voucher: VoucherIn,
    db: DbDep,
    now: Now,
    currency: Currency,
    request: Request,
    idempotency_key: Key,
):
    """Issue a voucher with a signed code (seed 001). A money voucher is funded from the issuing
    outlet's (or the coalition's) "vouchers issued" account. A retry with the same key answers
    the first voucher with repeated=true."""
    body = voucher.model_dump(mode="json")
    req = {**body, **voucher.model_dump(include={"valid_from", "valid_to"})}
    secret = _settings(request).secret
    return db.write_keyed(
        "voucher/",
        idempotency_key,
        body,
        lambda conn, key: store.issue(conn, req, currency, secret, key, caller.name, now),
        scope=Scope(voucher.outlet_id) if voucher.outlet_id else COALITION,
    )


@router.get("/vouchers", response_model=list[VoucherOut])
def list_vouchers(
    caller: Allowed.vouchers_read,
    db: DbDep,
    now: Now,
    card_uid: Annotated[str | None, Query(pattern=r"^[0-9A-Za-z_:.-]{4,64}$")] = None,
    outlet_id: Annotated[str | None, Query(pattern=r"^[A-Za-z0-9_.-]{1,40}$")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
):
    """The newest vouchers, of a card or an issuing outlet."""
    scope = Scope(outlet_id) if outlet_id else (COALITION if caller.scoped else None)
    return db.read(store.list_vouchers, now, card_uid, outlet_id, limit, scope=scope)


@router.get("/vouchers/code-key", response_model=CodeKeyOut)
def code_key(_caller: Allowed.vouchers_issue, db: DbDep, request: Request):
    """The key a till checks codes offline with (hub/vouchers/codes.py: the format, the tag).
    It can tell a real code from a made-up one; redemption is online."""
    secret = _settings(request).secret
    key = db.read(store.signing_key, secret)
    if key is None:
        raise Conflict("no voucher has been issued yet: the key is made with the first")
    return {"key": base64.b64encode(key).decode(), "format": codes.__doc__.split("\n\n")[1]}


@router.get("/vouchers/check/{code}", response_model=CheckOut)
def check_code(
    _caller: Allowed.cards_read,
    code: Annotated[str, Path(pattern=r"^[A-Za-z0-9-]{1,80}$")],
    db: DbDep,
    now: Now,
    request: Request,
):
    """Check a scanned code: its signature (422 if forged or mistyped), then the voucher as it
    stands (status, what is left, its conditions). Books nothing."""
    secret = _settings(request).secret
    return db.read(lambda conn: {"voucher": store.view(conn, store.by_code(conn, secret, code)["id"], now)})


@router.get("/cards/{uid}/vouchers", response_model=list[VoucherOut])
def card_vouchers(
    _caller: Allowed.cards_read,
    uid: CardUid,
    db: DbDep,
    now: Now,
    open_only: Annotated[bool, Query(description="only those redeemable now")] = True,
):
    """The vouchers issued or credited to the card (a linked card: its wallet's), with their
    codes: a till redeems one with the card presented (POST /vouchers/redeem or voucher_codes in
    POST /baskets/pay)."""
    return db.read(store.card_vouchers, uid, now, open_only)


@router.get("/vouchers/{voucher_id}", response_model=VoucherOut)
def get_voucher(_caller: Allowed.vouchers_read, voucher_id: VoucherId, db: DbDep, now: Now):
    """A voucher's terms, what is left, its status, and every redemption (where, when, by which
    till) and delivery."""
    return db.read(store.view, voucher_id, now)


@router.get(
    "/vouchers/{voucher_id}/pdf",
    response_class=Response,
    responses={200: {"content": {"application/pdf": {}}, "description": "the printable voucher"}},
)
def voucher_pdf(_caller: Allowed.vouchers_read, voucher_id: VoucherId, db: DbDep, currency: Currency):
    """The voucher to print: the code as QR, the value, the validity and the conditions."""
    voucher = db.read(store.get_voucher, voucher_id)
    return Response(delivery.pdf(voucher, currency), media_type="application/pdf")


@router.get(
    "/vouchers/{voucher_id}/qr",
    response_class=Response,
    responses={200: {"content": {"image/png": {}}, "description": "the code as a QR code"}},
)
def voucher_qr(_caller: Allowed.vouchers_read, voucher_id: VoucherId, db: DbDep):
    voucher = db.read(store.get_voucher, voucher_id)
    return Response(delivery.qr_png(voucher["code"]), media_type="image/png")


@router.post("/vouchers/redeem", response_model=RedeemOut, status_code=201)
def redeem_voucher(
    caller: Allowed.sales_pay,
    redemption: RedeemIn,
    db: DbDep,
    now: Now,
    request: Request,
    idempotency_key: Key,
):
    """Redeem a voucher at an outlet's till (or web shop): a money voucher pays `amount` (or as
    much of the lines as it can; the rest stays on it), a goods voucher covers its units of the
    matching lines, a discount voucher takes its discount off the matching lines; the value is
    booked to the outlet's revenue. A points voucher is credited to the card presented. Exactly
    once: two tills at the same instant — one wins, the other gets 409. A retry with the same
    key answers the first redemption with repeated=true."""
    body = redemption.model_dump(mode="json")
    secret = _settings(request).secret
    return db.write_keyed(
        "voucher-redeem/",
        idempotency_key,
        body,
        lambda conn, key: redeem.redeem(conn, body, secret, key, caller.name, now),
        scope=Scope(redemption.outlet_id, redemption.counter_id),
    )


@router.post("/vouchers/credit-basket", response_model=RedeemOut, status_code=201)
def credit_basket(
    caller: Allowed.sales_pay,
    credit: CreditIn,
    db: DbDep,
    now: Now,
    request: Request,
    idempotency_key: Key,
):
    """A discount voucher redeemed against a basket paid before (seed 001: a discount on a past
    purchase): its percent or amount of the basket's lines it applies to (what the card paid
    for them) is credited to the basket's card's wallet, paid by the voucher's issuer. Within
    the voucher's validity, once; a non-transferable voucher only on its card's baskets; a
    refund of the basket takes the credit back. A cashier of the basket's outlet may. A retry
    with the same key answers the first credit with repeated=true."""
    body = credit.model_dump(mode="json")
    secret = _settings(request).secret

    def run(conn: Connection, key: str) -> dict:
        if caller.scoped:
            caller.check_outlet(conn, redeem.basket_outlet(conn, credit.basket_id))
        return redeem.credit_basket(conn, body, secret, key, caller.name, now)

    return db.write_keyed("voucher-credit/", idempotency_key, body, run)


def _issuer_scope(conn: Connection, caller: Caller, voucher_id: str) -> None:
    """A caller bound to an outlet acts on the vouchers their outlet issued."""
    if caller.scoped:
        caller.check_outlet(conn, store.get_voucher(conn, voucher_id)["issuer_outlet_id"])


@router.post("/vouchers/{voucher_id}/cancel", response_model=VoucherOut)
def cancel_voucher(
    caller: Allowed.vouchers_issue, voucher_id: VoucherId, db: DbDep, now: Now, idempotency_key: Key
):
    """Cancel a voucher: what is left of it goes back to where it came from. Repeats answer
    repeated=true."""

    def cancel(conn: Connection, key: str) -> dict:
        _issuer_scope(conn, caller, voucher_id)
        return store.cancel(conn, voucher_id, key, now)

    return db.write_keyed("voucher-cancel/", idempotency_key, {"voucher_id": voucher_id}, cancel)


@router.post(
    "/vouchers/{voucher_id}/deliver",
    response_model=VoucherOut,
    responses={502: {"description": "The mail server could not be reached or refused the message"}},
)
def deliver_voucher(
    caller: Allowed.vouchers_issue,
    voucher_id: VoucherId,
    target: DeliverIn,
    db: DbDep,
    now: Now,
    currency: Currency,
    request: Request,
    idempotency_key: Key,
):
    """Hand a voucher over. card: a money voucher is credited to the card's wallet, a points
    voucher as points (both redeem it whole), a goods or discount voucher is bound to the card;
    email: sent over SMTP with the code as an image and the PDF (then recorded); print: the PDF
    was printed and handed over. Its status becomes delivered."""
    body = {"voucher_id": voucher_id, **target.model_dump(mode="json")}
    settings = _settings(request)
    if target.channel == "card":
        if target.card_uid is None:
            raise Invalid("name the card_uid to credit the voucher to")

        def to_card(conn: Connection, key: str) -> dict:
            _issuer_scope(conn, caller, voucher_id)
            return redeem.credit_to_card(conn, voucher_id, target.card_uid, key, caller.name, now)

        return db.write_keyed("voucher-deliver/", idempotency_key, body, to_card)
    voucher = db.read(store.get_voucher, voucher_id)
    to = target.email or voucher["recipient_email"]
    if target.channel == "email":
        if not to:
            raise Invalid("name the e-mail address: the voucher has no recipient_email")
        sent = db.read(store.delivered_under, voucher_id, "voucher-deliver/", idempotency_key)
        left = db.read(store.remaining, voucher)
        if not sent:
            store.check_open(voucher, left, now)
            delivery.send(delivery.message(voucher, currency, to, settings.mail), settings.mail)

    def record(conn: Connection, key: str) -> dict:
        _issuer_scope(conn, caller, voucher_id)
        return store.deliver(conn, voucher_id, target.channel, to, caller.name, key, now)

    return db.write_keyed("voucher-deliver/", idempotency_key, body, record)


class ReportRow(BaseModel):
    outlet_id: str | None = Field(
        description="the issuing or redeeming outlet; null: the coalition, or a card"
    )
    kind: str
    issued: int = Field(description="vouchers the outlet issued")
    face_value: int = Field(description="their face values added up (minor units, points or uses)")
    redeemed: int = Field(description="redemptions at the outlet")
    used: int = Field(description="what they took from the vouchers, less what refunds gave back")
    value: int = Field(description="money booked to the outlet's revenue, less refunds, minor units")


class ReportOut(BaseModel):
    since: dt.datetime | None
    until: dt.datetime | None
    rows: list[ReportRow]


@router.get("/voucher-report", response_model=ReportOut)
def voucher_report(
    _caller: Allowed.reports_read, db: DbDep, since: Moment | None = None, until: Moment | None = None
):
    """Vouchers issued and redeemed over [since, until), per outlet and kind."""
    return db.read(store.report, since, until, scope=COALITION)


class ExpiryOut(BaseModel):
    vouchers: int = Field(description="vouchers found past their validity and marked expired")
    booked_out: dict[str, int] = Field(
        description="per ledger: what was left on them, booked back to the issuer"
    )


@router.post("/vouchers/expire", response_model=ExpiryOut)
def expire_vouchers(_caller: Allowed.maintenance_run, db: DbDep, now: Now):
    """Book out the rest of every voucher past its validity, back to where it came from (the
    issuer keeps what was never redeemed); each is marked expired, once."""
    return db.write(store.expire, now, scope=COALITION)


# -- bonus credits: campaigns ------------------------------------------------------------------------


class AudienceIn(BaseModel):
    """Which cards get a voucher; several given: the cards every one of them names."""

    card_uids: list[CardUid] = Field([], max_length=campaigns.MAX_CARDS)
    card_kind: Literal["value", "debit", "employee"] | None = None
    visited_within_days: int | None = Field(
        None, ge=1, le=3660, strict=True, description="cards that moved money (a tap, a sale) lately"
    )


class CampaignIn(BaseModel):
    id: Slug
    name: Annotated[str, Field(max_length=100)] = ""
    voucher: VoucherIn = Field(description="the terms of every card's voucher (no card_uid: each card's own)")
    audience: AudienceIn
    deliver: Literal["none", "card", "email"] = Field(
        "none",
        description="card: money and points credited straight to each card; goods, discounts bound to it; "
        "email: each voucher (bound to its card) e-mailed to the card holder's address, the code as an image "
        "and the PDF (cards without an address are listed in without_email)",
    )


class EmailFailure(BaseModel):
    card_uid: str
    email: str
    error: str


class CampaignOut(BaseModel):
    id: str
    name: str
    audience: dict
    deliver: str
    terms: dict
    created_by: str
    created_at: dt.datetime
    vouchers: int = Field(description="issued, one per card")
    face_value: int = Field(description="their face values added up (minor units, points or uses)")
    by_status: dict[str, int]
    taken_up: int = Field(description="vouchers used at least in part")
    uptake: float = Field(description="taken_up / vouchers")
    value_paid: int = Field(description="money its vouchers paid to outlets and onto cards, net of refunds")
    points_credited: int
    open: int = Field(description="what is left on its vouchers still redeemable")
    voucher_ids: list[str]
    deliveries: dict[str, int] = Field(description="vouchers handed over, per channel: card, email, print")
    without_email: list[str] = Field(
        description="an e-mailed campaign: the cards whose holder has no address"
    )
    email_pending: int = Field(description="an e-mailed campaign: vouchers with an address not e-mailed yet")
    email_failures: list[EmailFailure] = Field(
        [],
        description="this request: the e-mails the mail server did not take (POST …/email sends them again)",
    )
    repeated: bool = False


@router.post("/voucher-campaigns", response_model=CampaignOut, status_code=201)
def run_campaign(
    caller: Allowed.vouchers_issue,
    campaign: CampaignIn,
    db: DbDep,
    now: Now,
    currency: Currency,
    request: Request,
    idempotency_key: Key,
):
    """Bonus credits (seed 001): one voucher of the same terms for each card of the audience,
    issued at once (and credited to each card, or e-mailed to each card holder, if asked). A
    retry with the same key answers the campaign with repeated=true (and sends the e-mails not
    sent yet)."""
    body = campaign.model_dump(mode="json")
    terms = {**body["voucher"], **campaign.voucher.model_dump(include={"valid_from", "valid_to"})}
    req = {**body, "voucher": terms, "terms_json": body["voucher"]}
    settings = _settings(request)
    scope = Scope(campaign.voucher.outlet_id) if campaign.voucher.outlet_id else COALITION
    if campaign.deliver == "email":
        if not caller.may("holders.read"):
            raise Forbidden("e-mailing a campaign reads the card holders' addresses: holders.read")
        if not settings.mail.smtp:
            raise Conflict("no mail server is configured (TAPGIFT_SMTP): deliver to the cards instead")
    out = db.write_keyed(
        "voucher-campaign/",
        idempotency_key,
        body,
        lambda conn, key: campaigns.run(conn, req, currency, settings.secret, key, caller.name, now),
        scope=scope,
    )
    if campaign.deliver != "email":
        return out
    failures = _email_campaign(db, out["id"], currency, settings.mail, caller.name, now, scope)
    return {
        **db.read(campaigns.report, out["id"], now),
        "repeated": out["repeated"],
        "email_failures": failures,
    }


EMAIL_BATCH = 100  # vouchers read, sent over one connection and recorded at a time


def _email_campaign(
    db: DbDep, campaign_id: str, currency: str, mail: delivery.MailSettings, caller: str, now, scope: Scope
) -> list[dict]:
    """E-mail the campaign's vouchers not e-mailed yet, a batch at a time, outside the database
    transactions (a slow mail server holds no lock); each batch's sent mails recorded at once."""
    todo = db.read(campaigns.unsent_emails, campaign_id)
    failures = []
    for i in range(0, len(todo), EMAIL_BATCH):
        batch = todo[i : i + EMAIL_BATCH]
        vouchers = db.read(
            lambda conn, ids=[v for v, _, _ in batch]: [store.get_voucher(conn, v) for v in ids]
        )
        messages = [
            delivery.message(v, currency, to, mail) for v, (_, to, _) in zip(vouchers, batch, strict=True)
        ]
        errors = delivery.send_each(messages, mail)
        sent = [(v, to) for (v, to, _), error in zip(batch, errors, strict=True) if error is None]
        failures += [
            {"card_uid": uid, "email": to, "error": error}
            for (_, to, uid), error in zip(batch, errors, strict=True)
            if error is not None
        ]
        if sent:
            db.write(campaigns.record_emails, sent, caller, now, scope=scope)
    return failures


@router.post(
    "/voucher-campaigns/{campaign_id}/email",
    response_model=CampaignOut,
    responses={409: {"description": "The campaign is not delivered by e-mail, or no mail server is set"}},
)
def email_campaign(
    caller: Allowed.vouchers_issue,
    campaign_id: Annotated[str, Path(pattern=r"^[A-Za-z0-9_.-]{1,40}$")],
    db: DbDep,
    now: Now,
    currency: Currency,
    request: Request,
):
    """E-mail the vouchers of an e-mailed campaign that are not e-mailed yet (the mail server
    refused them, or was down): each voucher is sent until the server takes it, then not again."""
    settings = _settings(request)
    if not caller.may("holders.read"):
        raise Forbidden("e-mailing a campaign reads the card holders' addresses: holders.read")
    if not settings.mail.smtp:
        raise Conflict("no mail server is configured (TAPGIFT_SMTP)")
    outlet = db.read(campaigns.get_campaign, campaign_id)["terms"].get("outlet_id")
    scope = Scope(outlet) if outlet else COALITION
    db.read(lambda conn: None, scope=scope)  # a caller of another outlet is refused before any mail
    failures = _email_campaign(db, campaign_id, currency, settings.mail, caller.name, now, scope)
    return {**db.read(campaigns.report, campaign_id, now), "email_failures": failures}


@router.get("/voucher-campaigns", response_model=list[CampaignOut])
def list_campaigns(_caller: Allowed.vouchers_read, db: DbDep, now: Now):
    """Every campaign with its cost and uptake."""
    return db.read(campaigns.list_campaigns, now, scope=COALITION)


@router.get("/voucher-campaigns/{campaign_id}", response_model=CampaignOut)
def campaign_report(
    _caller: Allowed.vouchers_read,
    campaign_id: Annotated[str, Path(pattern=r"^[A-Za-z0-9_.-]{1,40}$")],
    db: DbDep,
    now: Now,
):
    """A campaign's cost and uptake: its vouchers by status, the money they paid, what is open."""
    return db.read(campaigns.report, campaign_id, now, scope=COALITION)
