"""A voucher's code: unique, unguessable and signed by the hub, so a till can check it offline.

    TGV-<K>-<VALUE>-<UNTIL>-<SERIAL>-<TAG>      e.g. TGV-M-2500-20261231-7QX3…-K2PA…

  K       the kind: M money (VALUE in minor units), P points, G goods or a service (VALUE: units),
          D a discount of an amount (minor units), R a discount in percent (VALUE: hundredths of
          a percent, 1000 = 10 %)
  UNTIL   the last valid day (UTC) as YYYYMMDD, 0 without an end
  SERIAL  80 random bits, base32 (16 characters): the voucher's id; nobody guesses one
  TAG     HMAC-SHA256 over everything before "-<TAG>" with the code key, its first 80 bits in
          base32 (16 characters)

Only upper-case letters, digits and "-": a QR code holds it in alphanumeric mode. Input is read
in any case.

The code key is derived from the hub's secret (Settings.voucher_secret, or one made and stored
in the database on first use): HMAC-SHA256(secret, "tapgift voucher codes v1"). A till that
checks codes offline is given the code key (GET /vouchers/code-key), never the secret itself; it
can tell a typed or made-up code from a real one and show the face value and validity without
the hub. A code with a good tag redeems nothing by itself: redemption is online, against the
voucher's account on the ledger. (An HMAC key checks and signs alike: a till holding it could make
codes with good tags — for vouchers that do not exist. A public-key signature would let tills
check without being able to sign; the codes would be three times as long.)
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

from hub.core.errors import Invalid

PREFIX = "TGV"
KIND_LETTERS = {"money": "M", "points": "P", "goods": "G", "discount_amount": "D", "discount_percent": "R"}
_LETTER_KINDS = {v: k for k, v in KIND_LETTERS.items()}
_CONTEXT = b"tapgift voucher codes v1"
_SHAPE = re.compile(r"TGV-([MPGDR])-(\d{1,12})-(0|\d{8})-([A-Z2-7]{16})-([A-Z2-7]{16})")
MAX_CODE = 80  # longer input is no code of ours


@dataclass(frozen=True)
class CodeFields:
    """What a code says by itself (checked offline): kind, face value, last valid day, serial."""

    kind: str  # money, points, goods, discount_amount, discount_percent
    value: int
    until: dt.date | None
    serial: str


def code_key(secret: str) -> bytes:
    """The key codes are tagged with, derived from the hub's secret."""
    return hmac.new(secret.encode(), _CONTEXT, hashlib.sha256).digest()


def new_serial() -> str:
    return base64.b32encode(secrets.token_bytes(10)).decode()


def _tag(key: bytes, body: str) -> str:
    return base64.b32encode(hmac.new(key, body.encode(), hashlib.sha256).digest()[:10]).decode()


def make_code(key: bytes, kind: str, value: int, until: dt.date | None, serial: str) -> str:
    body = f"{PREFIX}-{KIND_LETTERS[kind]}-{value}-{until.strftime('%Y%m%d') if until else 0}-{serial}"
    return f"{body}-{_tag(key, body)}"


def serial_of(code: str) -> str:
    """The serial of something shaped like a code (its tag unchecked); Invalid otherwise."""
    text = code.strip().upper()
    found = _SHAPE.fullmatch(text) if len(text) <= MAX_CODE else None
    if found is None:
        raise Invalid("not a voucher code (TGV-K-VALUE-UNTIL-SERIAL-TAG)")
    return found.group(4)


def read_code(code: str, key: bytes) -> CodeFields:
    """The fields of a code whose tag is good; Invalid (422) for anything else: a malformed,
    altered or made-up code. Offline: needs only the code key."""
    text = code.strip().upper()
    found = _SHAPE.fullmatch(text) if len(text) <= MAX_CODE else None
    if found is None:
        raise Invalid("not a voucher code (TGV-K-VALUE-UNTIL-SERIAL-TAG)")
    letter, value, until, serial, tag = found.groups()
    body = text.rsplit("-", 1)[0]
    if not hmac.compare_digest(_tag(key, body), tag):
        raise Invalid("not a valid voucher code: its signature does not match")
    day = None
    if until != "0":
        try:
            day = dt.date(int(until[:4]), int(until[4:6]), int(until[6:]))
        except ValueError:  # a good tag on a bad date is no code the hub made
            raise Invalid("not a valid voucher code: its date is not a day") from None
    return CodeFields(_LETTER_KINDS[letter], int(value), day, serial)
