"""SUN (Secure Unique NFC) messages of NTAG 424 DNA cards, checked as NXP AN12196
describes them, so that a cloned card (which can only replay a message it once read)
is refused.

On every read the tag makes a fresh message: its PICC data (tag byte, 7-byte UID,
3-byte read counter) encrypted with the SDM meta-read key, or UID and counter in
plain, and an 8-byte MAC keyed by a session key derived from the SDM file-read key,
the UID and the counter. The hub keeps both keys of a registered card and the last
counter it accepted; a message must verify and carry a higher counter. Cards not
registered here work on their UID alone.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import datetime

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.cmac import CMAC
from sqlalchemy import Connection, delete, select

from hub.core.clock import utcnow
from hub.core.errors import Invalid, NotFound
from hub.core.raw import Raw
from hub.tables.cards import CardSun
from hub.wallets.cards import canonical_uid, get_card

CARD_SUN = CardSun.__table__

_SV2 = bytes.fromhex("3CC300010080")  # SV2 prefix: derives the session MAC key
_UID_AND_COUNTER = 0xC0  # PICCDataTag bits: UID mirrored, read counter mirrored
# With SDMENCFileData the MAC covers its ASCII hex and the text up to the MAC value,
# "&cmac=" in AN12196's example; the reader forwards "c" as "cmac" too, so both are tried.
_MAC_PARAMS = (b"&cmac=", b"&c=")


class BadSun(Invalid):
    """The SUN message does not verify for this card."""


@dataclass
class SunKeys:
    meta: bytes | None
    file: bytes
    last_counter: int | None


def _cmac(key: bytes, data: bytes) -> bytes:
    mac = CMAC(algorithms.AES(key))
    mac.update(data)
    return mac.finalize()


def decrypt_picc_data(meta_key: bytes, enc: bytes) -> tuple[bytes, int]:
    """(UID, read counter) from encrypted PICC data (AES-128-CBC, zero IV)."""
    if len(enc) != 16:
        raise BadSun("PICC data must be 16 bytes (AES mode)")
    decryptor = Cipher(algorithms.AES(meta_key), modes.CBC(bytes(16))).decryptor()
    plain = decryptor.update(enc) + decryptor.finalize()
    tag = plain[0]
    if tag & _UID_AND_COUNTER != _UID_AND_COUNTER or tag & 0x0F != 7:
        raise BadSun("PICC data without a 7-byte UID and a read counter (wrong key?)")
    return plain[1:8], int.from_bytes(plain[8:11], "little")


def sdm_mac(file_key: bytes, uid: bytes, counter: int, data: bytes = b"") -> bytes:
    """The 8-byte SDMMAC over data: CMAC with the session key, odd-indexed bytes."""
    session_key = _cmac(file_key, _SV2 + uid + counter.to_bytes(3, "little"))
    return _cmac(session_key, data)[1::2]


def _hex(sun: dict, name: str, size: int | None = None) -> bytes:
    try:
        value = bytes.fromhex(sun[name])
    except (KeyError, ValueError, TypeError):
        raise BadSun(f"SUN data without a valid {name}") from None
    if size is not None and len(value) != size:
        raise BadSun(f"{name} must be {size} bytes")
    return value


def read_counter(sun: dict | None, card_uid: str, keys: SunKeys) -> int:
    """The read counter of a SUN message that verifies for this card; raises BadSun."""
    if not sun:
        raise BadSun("card is registered for SUN; the tap carries no SUN data")
    mac = _hex(sun, "cmac", 8)
    if "picc_data" in sun:
        if keys.meta is None:
            raise BadSun("card has no meta-read key for encrypted PICC data")
        uid, counter = decrypt_picc_data(keys.meta, _hex(sun, "picc_data"))
    else:
        uid, counter = _hex(sun, "uid", 7), int.from_bytes(_hex(sun, "ctr", 3), "big")
    if uid.hex().upper() != card_uid.upper():
        raise BadSun("SUN data of another card")
    inputs = [b""]
    if "enc" in sun:  # the MAC also covers the encrypted file data, as ASCII hex
        inputs = [_hex(sun, "enc").hex().upper().encode() + p for p in _MAC_PARAMS]
    if not any(hmac.compare_digest(sdm_mac(keys.file, uid, counter, d), mac) for d in inputs):
        raise BadSun("SUN MAC does not verify")
    return counter


def check(sun: dict | None, card_uid: str, keys: SunKeys) -> int:
    """Like read_counter, and the counter must be above the last one accepted."""
    counter = read_counter(sun, card_uid, keys)
    if keys.last_counter is not None and counter <= keys.last_counter:
        raise BadSun(f"read counter {counter} not above {keys.last_counter}: a replay")
    return counter


# --- the batched booking path (hub/taps/authorize.py) -------------------------------------------


def load(raw: Raw, uids) -> dict[str, SunKeys]:
    """SUN keys of those of the cards registered for SUN, in one query, rows locked."""
    uids = sorted(set(uids))
    if not uids:
        return {}
    rows = raw.rows(
        "SELECT uid, meta_key_hex, file_key_hex, last_counter FROM card_sun "
        f"WHERE uid IN ({raw.marks(len(uids))}) ORDER BY uid" + raw.lock(),
        uids,
    )
    return {
        uid: SunKeys(bytes.fromhex(meta) if meta else None, bytes.fromhex(file), last)
        for uid, meta, file, last in rows
    }


def store_counters(raw: Raw, accepted: dict[str, int], now: datetime) -> None:
    raw.many(
        "UPDATE card_sun SET last_counter = ?, last_seen_at = ? WHERE uid = ?",
        [(counter, raw.when(now), uid) for uid, counter in sorted(accepted.items())],
    )


# --- registration (REST) ------------------------------------------------------------------


def register(
    conn: Connection, uid: str, file_key: str, meta_key: str | None, last_counter: int | None
) -> dict:
    """Register (or re-key) a card for SUN. Without last_counter a re-keyed card keeps the
    counter accepted so far, so old messages stay refused. A card the hub does not know:
    NotFound."""
    get_card(conn, uid)
    uid = canonical_uid(uid)
    row = conn.execute(select(CARD_SUN.c.last_counter).where(CARD_SUN.c.uid == uid)).first()
    values = {"meta_key_hex": meta_key.upper() if meta_key else None, "file_key_hex": file_key.upper()}
    if last_counter is not None or row is None:
        values["last_counter"] = last_counter
    if row is None:
        conn.execute(CARD_SUN.insert().values(uid=uid, registered_at=utcnow(), **values))
    else:
        conn.execute(CARD_SUN.update().where(CARD_SUN.c.uid == uid).values(**values))
    return view(conn, uid)


def view(conn: Connection, uid: str) -> dict:
    """A card's SUN registration without its keys (they are never read back)."""
    row = (
        conn.execute(
            select(
                CARD_SUN.c.uid,
                CARD_SUN.c.meta_key_hex,
                CARD_SUN.c.last_counter,
                CARD_SUN.c.registered_at,
                CARD_SUN.c.last_seen_at,
            ).where(CARD_SUN.c.uid == canonical_uid(uid))
        )
        .mappings()
        .first()
    )
    if row is None:
        raise _not_registered(uid)
    return {
        "uid": row["uid"],
        "encrypted_picc_data": row["meta_key_hex"] is not None,
        "last_counter": row["last_counter"],
        "registered_at": row["registered_at"],
        "last_seen_at": row["last_seen_at"],
    }


def unregister(conn: Connection, uid: str) -> None:
    """The card works on its UID alone again."""
    if conn.execute(delete(CARD_SUN).where(CARD_SUN.c.uid == canonical_uid(uid))).rowcount == 0:
        raise _not_registered(uid)


def _not_registered(uid: str) -> Exception:
    return NotFound(f"card {uid} is not registered for SUN")
