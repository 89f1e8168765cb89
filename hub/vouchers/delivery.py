"""A voucher handed over: its code as a QR image, a printable PDF (the code as QR, the value, the
validity and the conditions), and an e-mail over SMTP carrying both.

The PDF uses fpdf2's core fonts (Latin-1): a character they lack prints as "?", never fails.
Mail: `smtp` is a URL, smtp://[user:password@]host[:port] (plain; port 25) or
smtps://… (TLS from the start; port 465).
"""

from __future__ import annotations

import datetime as dt
import io
import smtplib
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import make_msgid
from html import escape
from urllib.parse import unquote, urlsplit

import segno
from fpdf import FPDF

from hub.core.errors import Conflict, DomainError


class MailFailed(DomainError):
    """The mail server could not be reached or refused the message (502)."""

    status = 502


@dataclass(frozen=True)
class MailSettings:
    smtp: str = ""  # smtp://host:port; "" — no mail is sent
    sender: str = "tapgift@localhost"


def qr_png(code: str, scale: int = 8) -> bytes:
    out = io.BytesIO()
    segno.make(code, error="m").save(out, kind="png", scale=scale, border=4)
    return out.getvalue()


def _money(minor: int, currency: str) -> str:
    return f"{currency} {minor // 100}.{minor % 100:02d}"


def describe(v: dict, currency: str) -> str:
    """What the voucher is worth, in words."""
    limits = ", ".join(v["article_ids"] + [f"group {g}" for g in v["group_ids"]])
    if v["kind"] == "money":
        text = _money(v["face_value"], v["ledger"])
    elif v["kind"] == "points":
        text = f"{v['face_value']} points"
    elif v["kind"] == "goods":
        return f"{v['face_value']} x {limits}"
    elif v["percent"] is not None:
        text = f"{v['percent']} % off"
        if v["max_discount"] is not None:
            text += f" (at most {_money(v['max_discount'], currency)})"
    else:
        text = f"{_money(v['face_value'], currency)} off"
    return f"{text} on {limits}" if limits else text


def validity(v: dict) -> str:
    def day(moment: dt.datetime) -> str:
        return moment.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")

    if v["valid_from"] and v["valid_to"]:
        return f"valid from {day(v['valid_from'])} until {day(v['valid_to'])}"
    if v["valid_to"]:
        return f"valid until {day(v['valid_to'])}"
    if v["valid_from"]:
        return f"valid from {day(v['valid_from'])}"
    return "valid without a time limit"


def conditions(v: dict) -> list[str]:
    out = []
    if v["online_only"]:
        out.append("Redeemable online only.")
    if not v["transferable"]:
        out.append(f"Not transferable: redeemable only with card {v['card_uid']}.")
    if v["kind"] == "money":
        out.append("May be redeemed in parts; the rest stays on the voucher.")
    if v["conditions"]:
        out.append(v["conditions"])
    return out


def _latin1(text: str) -> str:
    return text.encode("latin-1", "replace").decode("latin-1")


def pdf(v: dict, currency: str, title: str = "Voucher") -> bytes:
    """A one-page A5 voucher: the value, the QR code, the code in text, validity, conditions."""
    doc = FPDF(format="A5")
    doc.set_auto_page_break(True, margin=12)
    doc.add_page()
    doc.set_title(_latin1(f"{title} {v['id']}"))
    doc.set_font("Helvetica", "B", 22)
    doc.cell(0, 12, _latin1(title), new_x="LMARGIN", new_y="NEXT", align="C")
    doc.set_font("Helvetica", "B", 16)
    doc.multi_cell(0, 9, _latin1(describe(v, currency)), new_x="LMARGIN", new_y="NEXT", align="C")
    if v["recipient_name"]:
        doc.set_font("Helvetica", "", 12)
        doc.multi_cell(0, 7, _latin1(f"for {v['recipient_name']}"), new_x="LMARGIN", new_y="NEXT", align="C")
    doc.ln(2)
    doc.image(io.BytesIO(qr_png(v["code"])), x=(doc.w - 60) / 2, w=60, h=60)
    doc.ln(2)
    doc.set_font("Courier", "", 8)
    doc.multi_cell(0, 5, v["code"], new_x="LMARGIN", new_y="NEXT", align="C")
    doc.set_font("Helvetica", "", 11)
    doc.ln(2)
    text = validity(v)
    doc.multi_cell(0, 6, _latin1(text[:1].upper() + text[1:] + "."), new_x="LMARGIN", new_y="NEXT")
    for line in conditions(v):
        doc.multi_cell(0, 6, _latin1(line), new_x="LMARGIN", new_y="NEXT", wrapmode="CHAR")
    return bytes(doc.output())


def message(v: dict, currency: str, to: str, settings: MailSettings) -> EmailMessage:
    """The voucher as an e-mail: a text and an HTML part with the QR code inline, and the PDF."""
    msg = EmailMessage()
    msg["Subject"] = f"Your voucher: {describe(v, currency)}"
    msg["From"] = settings.sender
    msg["To"] = to
    lines = [describe(v, currency), validity(v), *conditions(v), "", f"Code: {v['code']}"]
    msg.set_content("Your voucher\n\n" + "\n".join(lines) + "\n")
    cid = make_msgid(domain="tapgift")
    html = '<p>Your voucher</p><p><b>{}</b></p><p><img src="cid:{}" alt="{}"></p><p>{}</p>'.format(
        escape(describe(v, currency)),
        cid[1:-1],
        escape(v["code"]),
        "<br>".join(escape(x) for x in [validity(v), *conditions(v), f"Code: {v['code']}"]),
    )
    msg.add_alternative(html, subtype="html")
    msg.get_payload()[1].add_related(
        qr_png(v["code"]), "image", "png", cid=cid, filename=f"voucher-{v['id']}.png"
    )
    msg.add_attachment(pdf(v, currency), "application", "pdf", filename=f"voucher-{v['id']}.pdf")
    return msg


def _client(settings: MailSettings, timeout: float) -> smtplib.SMTP:
    """A connection to the configured mail server, logged in if the URL names a user."""
    if not settings.smtp:
        raise Conflict("no mail server is configured (TAPGIFT_SMTP): deliver by print or to a card")
    url = urlsplit(settings.smtp)
    try:
        port = url.port or (465 if url.scheme == "smtps" else 25)
    except ValueError:  # a port that is not a number
        port = None
    if url.scheme not in ("smtp", "smtps") or not url.hostname or port is None:
        raise Conflict("TAPGIFT_SMTP is not smtp://[user:password@]host[:port] or smtps://…")
    client = smtplib.SMTP_SSL if url.scheme == "smtps" else smtplib.SMTP
    smtp = client(url.hostname, port, timeout=timeout)
    try:
        if url.username:
            smtp.login(unquote(url.username), unquote(url.password or ""))
    except BaseException:
        smtp.close()
        raise
    return smtp


def send(msg: EmailMessage, settings: MailSettings, timeout: float = 10.0) -> None:
    try:
        with _client(settings, timeout) as smtp:
            smtp.send_message(msg)
    except (OSError, smtplib.SMTPException) as exc:
        raise MailFailed(f"the mail server did not take the voucher: {exc}") from None


def send_each(
    messages: list[EmailMessage], settings: MailSettings, timeout: float = 10.0
) -> list[str | None]:
    """Send the messages over one connection; for each, None if the server took it, else why
    not. A message the server refuses does not stop the others; a connection that fails fails
    the rest."""
    out: list[str | None] = []
    if not messages:
        return out
    try:
        with _client(settings, timeout) as smtp:
            for msg in messages:
                try:
                    smtp.send_message(msg)
                    out.append(None)
                except (
                    smtplib.SMTPRecipientsRefused,
                    smtplib.SMTPDataError,
                    smtplib.SMTPSenderRefused,
                ) as exc:
                    smtp.rset()
                    out.append(f"refused: {exc}")
    except (OSError, smtplib.SMTPException) as exc:
        reason = f"the mail server did not take it: {exc}"
        out += [reason] * (len(messages) - len(out))
    return out
