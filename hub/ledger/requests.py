"""The Idempotency-Key of a REST money write: its place in the keys the hub stores, and the
request it first came with.

Keys in their own namespace. A route books under `<route>/<caller's key>` (e.g. `topup/K`) and
the hub derives further keys from it by appending `/<what>` (`topup/K/bonus`, `…/post`,
`…/void`, `…/pay`, `…/redeem`, `…/gift/<line>`, `…/obligation`, …) or `:<what>` (points earned:
`basket/K:line:<line>`, `basket/K:basket`). A caller's key therefore must never contain the `/`
or `:` that starts a derived suffix: `store_key` writes them as `|2f` and `|3a` (percent-encoding
with `|`, a character a caller's key may not hold: hub/api/fields.py, `Key`), so `K/bonus` is
stored as `topup/K|2fbonus` and can never be the bonus of `K`. Keys without `/` or `:` — nearly
all of them — are stored as before; a key with them that a database already holds from before
this rule (stored as sent) keeps meaning its own request, so its repeat is still recognised.

The same key with another request. `claim` records a fingerprint of the request under its key,
in the transaction that books it; a later request under the key with another fingerprint is a
409 that says so, whatever the domain would have answered.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from sqlalchemy import Connection, select

from hub.core.clock import utcnow
from hub.core.errors import Conflict
from hub.ledger.accounts import TRANSFERS
from hub.tables.gifts import Activity, ExitReset
from hub.tables.ledger import RequestKey
from hub.tables.sales import Basket

REQUEST_KEYS = RequestKey.__table__
ESCAPE = "|"  # a caller's key never holds it: it escapes the separators below
_SEPARATORS = {"/": ESCAPE + "2f", ":": ESCAPE + "3a"}  # what derived keys append after

# The first segment of the keys the hub books under: the REST routes' namespaces and its own.
# A controller's taps are keyed `<device id>/<request id>`, so no device may take one of these
# names as its id (hub/api/routers/devices.py): device `topup` tapping request `1-5` would book
# under `topup/1-5`, a till's top-up with Idempotency-Key `1-5`.
NAMESPACES = frozenset(
    {
        # REST money writes (hub/api/routers)
        "topup", "refund", "settle", "points-purchase", "basket", "gift-choice", "gift-give",
        "gift-redeem", "activity", "exit", "voucher", "voucher-redeem", "voucher-cancel", "voucher-deliver",
        "voucher-campaign", "voucher-expiry",
        # the hub's own bookings
        "expire", "expiry", "gift-expiry", "kiosk", "offline", "link", "replace", "registration",
        "machine",
    }
)  # fmt: skip

# Where a booking's key is stored, by the route that books it.
_STORED = (
    (TRANSFERS, TRANSFERS.c.idempotency_key),
    (Basket.__table__, Basket.__table__.c.idempotency_key),
    (Activity.__table__, Activity.__table__.c.key),
    (ExitReset.__table__, ExitReset.__table__.c.key),
    (REQUEST_KEYS, REQUEST_KEYS.c.key),
)


def _stored(conn: Connection, key: str) -> bool:
    return any(conn.execute(select(column).where(column == key).limit(1)).first() for _, column in _STORED)


def store_key(conn: Connection, prefix: str, key: str) -> str:
    """The key a request with the caller's `key` books under, on the route of `prefix`
    (e.g. "topup/"). A `/` or `:` in the caller's key is escaped — unless the database
    already holds the key as sent from before that rule, and it is not a key the hub
    derived from a shorter key of the caller (`K/bonus` of `K`): then it is that old request."""
    if not any(sep in key for sep in _SEPARATORS):
        return prefix + key
    legacy = prefix + key
    heads = [prefix + key[:i] for i, ch in enumerate(key) if ch in _SEPARATORS]
    if _stored(conn, legacy) and not any(_stored(conn, head) for head in heads):
        return legacy
    return prefix + "".join(_SEPARATORS.get(ch, ch) for ch in key)


# json.dumps with options builds an encoder per call; this one is made once (same output).
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), default=str)


def fingerprint(request: Any) -> str:
    """A digest of what a request asks (its path parameters and body, as JSON)."""
    return hashlib.sha256(_CANONICAL.encode(request).encode()).hexdigest()


def claim(conn: Connection, key: str, request: Any) -> None:
    """Record the request under its key, or check it is the one the key first came with;
    another request under a used key is a Conflict (409)."""
    digest = fingerprint(request)
    known = conn.execute(select(REQUEST_KEYS.c.fingerprint).where(REQUEST_KEYS.c.key == key)).scalar()
    if known is None:
        conn.execute(REQUEST_KEYS.insert().values(key=key, fingerprint=digest, created_at=utcnow()))
    elif known != digest:
        raise Conflict(
            f"Idempotency-Key {key.split('/', 1)[-1]!r} was used for a different request; "
            "send a new key for a new request"
        )
