"""Digital cards: the QR code a visitor shows (its uid, an unguessable token the hub makes)."""

from __future__ import annotations

import io

import segno
from sqlalchemy import Connection

from hub.core.errors import Conflict
from hub.wallets.cards import own_card


def qr(conn: Connection, uid: str) -> segno.QRCode:
    """The QR code of a digital card: its uid (the token a scanner sends as the card)."""
    card = own_card(conn, uid)
    if card.medium != "digital":
        raise Conflict(f"card {card.uid} is an RFID card; only a digital card has a QR code")
    return segno.make(card.uid, error="m")


def qr_image(conn: Connection, uid: str, kind: str, scale: int) -> bytes:
    out = io.BytesIO()
    qr(conn, uid).save(out, kind=kind, scale=scale, border=4)
    return out.getvalue()
