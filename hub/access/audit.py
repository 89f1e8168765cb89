"""The audit log: who changed what, from where, when — written in the change's own transaction,
append-only (the table's triggers refuse UPDATE and DELETE), queried and exported as CSV."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, func, select

from hub.access.callers import Caller
from hub.tables.access import AuditEntry

AUDIT = AuditEntry.__table__

# Values never written to the log: passwords, secrets, keys shown once, tokens.
SECRET_FIELDS = frozenset({"password", "new_password", "secret", "key", "token", "key_hex"})
# What each money action moved, from its request and its answer.
MONEY: dict[str, str] = {"top_up": "amount", "refund": "refunded", "settle": "amount"}


@dataclass
class Change:
    """A write about to be made, as the API saw it."""

    caller: Caller
    action: str
    method: str
    path: str
    source: str = ""
    target: dict = field(default_factory=dict)
    request: Any = None
    before: Any = None


# A voucher's code is a bearer credential (whoever holds it redeems it): kept only as its end.
BEARER_PREFIXES = ("TGV-",)


def redact(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: "***" if k in SECRET_FIELDS else redact(v) for k, v in value.items()}
    if isinstance(value, list):
        return [redact(v) for v in value]
    if isinstance(value, str) and value.startswith(BEARER_PREFIXES):
        return "…" + value[-4:]
    return value


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str)) if value is not None else None


def _transfers(result: Any) -> list[str]:
    if not isinstance(result, dict):
        return []
    found = []
    for name, value in result.items():
        if "transfer" in name and isinstance(value, str):
            found.append(value)
        elif "transfer" in name and isinstance(value, list):
            found.extend(v for v in value if isinstance(v, str))
    return found


def moved(action: str, request: Any, result: Any) -> int:
    """The money an action moved (0 for a repeat answered from an earlier request)."""
    name = MONEY.get(action)
    if name is None or (isinstance(result, dict) and result.get("repeated")):
        return 0
    for source in (result, request):
        if isinstance(source, dict) and isinstance(source.get(name), int):
            return source[name]
    return 0


def record(conn: Connection, change: Change, result: Any, now: dt.datetime) -> int:
    caller = change.caller
    request = change.request if isinstance(change.request, dict) else {}
    amount = moved(change.action, request, result)
    # the row as parameters of one prepared INSERT (compiled once), not as values built into a
    # new statement each time: SQLAlchemy would then extract them again from its cache key
    conn.execute(
        _INSERT,
        {
            "at": now,
            "actor_kind": caller.kind,
            "actor": caller.name,
            "role": caller.role,
            "source": change.source,
            "action": change.action,
            "method": change.method,
            "path": change.path,
            "outlet_id": request.get("outlet_id") or change.target.get("outlet_id") or caller.outlet_id,
            "target": _jsonable(change.target),
            "request": _jsonable(redact(change.request)),
            "before": _jsonable(redact(change.before)),
            "after": _jsonable(redact(result)),
            "transfers": _transfers(result),
            "amount": amount,
        },
    )
    return amount


_INSERT = AUDIT.insert()


def moved_since(conn: Connection, actor: str, action: str, since: dt.datetime) -> int:
    """What the actor moved with this action since a moment (repeats count 0)."""
    return conn.execute(
        select(func.coalesce(func.sum(AUDIT.c.amount), 0)).where(
            AUDIT.c.actor == actor, AUDIT.c.action == action, AUDIT.c.at >= since
        )
    ).scalar_one()


def query(
    conn: Connection,
    *,
    actor: str | None = None,
    outlets: set[str] | None = None,
    outlet_id: str | None = None,
    action: str | None = None,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    limit: int = 100,
    before_id: int | None = None,
) -> list[dict]:
    """Entries newest first, filtered; `outlets` is the set the caller may see (None: all)."""
    q = select(AUDIT).order_by(AUDIT.c.id.desc()).limit(limit)
    for column, value in (
        (AUDIT.c.actor, actor),
        (AUDIT.c.outlet_id, outlet_id),
        (AUDIT.c.action, action),
    ):
        if value is not None:
            q = q.where(column == value)
    if outlets is not None:
        q = q.where(AUDIT.c.outlet_id.in_(outlets))
    if since is not None:
        q = q.where(AUDIT.c.at >= since)
    if until is not None:
        q = q.where(AUDIT.c.at < until)
    if before_id is not None:
        q = q.where(AUDIT.c.id < before_id)
    return [dict(r) for r in conn.execute(q).mappings()]


CSV_COLUMNS = [c.name for c in AUDIT.columns]


def to_csv(entries: list[dict]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, CSV_COLUMNS)
    writer.writeheader()
    for entry in entries:
        writer.writerow({k: json.dumps(v) if isinstance(v, dict | list) else v for k, v in entry.items()})
    return out.getvalue()
