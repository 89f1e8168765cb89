"""The reports: SQL aggregations per outlet, till/cashier or machine and per hour, day or month
(in the site's time zone, hub.reports.periods), each a function `(conn, period, outlet_id) ->
list[dict]` returning plain rows: `bucket` (aware UTC start of the local bucket), `label` (the
local bucket, "2026-07-01 14"), the row's dimensions (outlet_id, device_id, …) and its figures
(money in minor units, counts, points). `REPORTS` lists them with their columns, for the API, the
CSV/PDF renderer, the console and the e-mailed schedules.

Where the figures come from:
  * sales: the ledger's transfers by code — sale and points_purchase into an outlet's revenue,
    sale_refund out of it, voucher_value (what vouchers paid it), tap_delivered (posted) and
    offline_vend into the machine accounts of its devices; top-ups and cash-desk refunds are not
    booked per outlet on the ledger (one cash desk per currency), so they come from the audit log
    (the outlet of the till or the caller that booked them) and from kiosk top-ups (the kiosk's
    outlet);
  * tills: the audit log of baskets paid and refunded, top-ups and refunds, per outlet, counter
    (the till a basket names) and cashier (the operator or API key that booked it);
  * machines: the holds resolved (taps, posted, voided, expired), offline vends, and the hourly
    health roll-up (uptime, reboots, faults);
  * loyalty: point lots (given; a basket's lot counts for the basket's outlet), points redeemed in
    baskets, gifts granted and redeemed per outlet (their obligation transfers);
  * vouchers: issued per issuing outlet, redeemed per redeeming outlet;
  * attendance: distinct cards per outlet and bucket (taps at its machines, baskets at its tills)
    and over the whole coalition (outlet_id null);
  * overspends: offline vends the card could not pay;
  * activities: seed 000's activities (a card's first use, a gift collected) and campaigns
    (16 activities each, a started one counts) per location and for the head office
    (outlet_id null).

A device belongs to the outlet its loyalty settings name (device_loyalty); a device without
one is reported with outlet_id null.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import Connection, Engine, select, text

from hub.core.clock import utcnow
from hub.core.errors import NotFound
from hub.gifts.reports import campaigns
from hub.reports import cache
from hub.reports.periods import Buckets, Period
from hub.tables.devices import Device
from hub.tables.gifts import ObligationAccount
from hub.tables.outlets import Outlet, Site
from hub.tables.taps import DeviceLoyalty

OUTLETS = Outlet.__table__
SITES = Site.__table__
DEVICES = Device.__table__
DEVICE_LOYALTY = DeviceLoyalty.__table__
OBLIGATIONS = ObligationAccount.__table__


@dataclass(frozen=True)
class Report:
    name: str
    title: str
    fn: Callable[[Connection, Period, str | None], list[dict]]
    dims: tuple[str, ...]  # what a row is about, besides its bucket
    figures: tuple[str, ...]  # its numbers, in column order
    chart: str  # the figure the PDF charts over the buckets
    money: tuple[str, ...] = ()  # figures in minor units
    additive: bool = True  # False: figures are distinct counts, no total is a sum of rows

    @property
    def columns(self) -> tuple[str, ...]:
        return ("label", *self.dims, *self.figures)


# -- the dimension tables (small: read whole) ----------------------------------------------------------


def outlet_directory(conn: Connection) -> dict[str, dict]:
    rows = conn.execute(
        select(
            OUTLETS.c.id, OUTLETS.c.name, OUTLETS.c.site_id, OUTLETS.c.revenue_account_id, SITES.c.tz
        ).join(SITES, SITES.c.id == OUTLETS.c.site_id)
    ).mappings()
    return {r["id"]: dict(r) for r in rows}


def _device_outlet_column():
    """The outlet a device belongs to: devices.outlet_id where the table has it, else its
    loyalty settings' outlet."""
    return getattr(DEVICES.c, "outlet_id", None)


def device_directory(conn: Connection) -> dict[str, dict]:
    own = _device_outlet_column()
    cols = [DEVICES.c.id, DEVICES.c.name, DEVICES.c.kind, DEVICES.c.site, DEVICES.c.account_id]
    query = select(
        *cols, DEVICE_LOYALTY.c.outlet_id.label("loyalty_outlet"), *([own] if own is not None else [])
    )
    rows = conn.execute(
        query.select_from(DEVICES.outerjoin(DEVICE_LOYALTY, DEVICE_LOYALTY.c.device_id == DEVICES.c.id))
    ).mappings()
    out = {}
    for r in rows:
        d = dict(r)
        d["outlet_id"] = d.get("outlet_id") or d.pop("loyalty_outlet")
        d.pop("loyalty_outlet", None)
        out[d["id"]] = d
    return out


def _device_outlet_sql(alias: str) -> tuple[str, str]:
    """(join, expression) giving the outlet of the device `alias`.device_id in SQL."""
    join = f" LEFT JOIN device_loyalty dl_{alias} ON dl_{alias}.device_id = {alias}.device_id"
    if _device_outlet_column() is not None:
        join += f" LEFT JOIN devices dv_{alias} ON dv_{alias}.id = {alias}.device_id"
        return join, f"COALESCE(dv_{alias}.outlet_id, dl_{alias}.outlet_id)"
    return join, f"dl_{alias}.outlet_id"


def report_tz(conn: Connection, outlet_id: str | None) -> str:
    """The time zone a report buckets in: its outlet's site's; for the coalition, the zone all
    sites share, else UTC."""
    if outlet_id is not None:
        tz = conn.execute(
            select(SITES.c.tz).join(OUTLETS, OUTLETS.c.site_id == SITES.c.id).where(OUTLETS.c.id == outlet_id)
        ).scalar()
        if tz is None:
            raise NotFound(f"no outlet {outlet_id}")
        return tz
    zones = set(conn.execute(select(SITES.c.tz).distinct()).scalars())
    return zones.pop() if len(zones) == 1 else "UTC"


def make_period(
    conn: Connection, start: dt.datetime, end: dt.datetime, by: str, outlet_id: str | None
) -> Period:
    return Period(start, end, by, report_tz(conn, outlet_id))


# -- running SQL ----------------------------------------------------------------------------------------


def _ints(values) -> str:
    """An IN list of our own integer ids (never a caller's text), inlined."""
    ids = sorted({int(v) for v in values})
    return ",".join(str(i) for i in ids) or "NULL"


def _plain(rows) -> list[tuple]:
    """PostgreSQL sums bigints as numeric: whole numbers back to int."""
    return [tuple(int(v) if isinstance(v, Decimal) else v for v in row) for row in rows]


def _rows(conn: Connection, b: Buckets, sql: str, **params) -> list[tuple]:
    return _plain(conn.execute(text(b.cte + sql), {**b.params, **params}))


def _row(table: dict, period: Period, label: str, dims: dict, figures: tuple[str, ...]) -> dict:
    key = (label, *dims.values())
    row = table.get(key)
    if row is None:
        row = table[key] = {
            "bucket": period.bucket_start(label),
            "label": label,
            **dims,
            **dict.fromkeys(figures, 0),
        }
    return row


def _sorted(table: dict) -> list[dict]:
    return [table[k] for k in sorted(table, key=lambda k: tuple("" if v is None else str(v) for v in k))]


# -- sales: money per outlet -----------------------------------------------------------------------------

SALES_FIGURES = (
    "baskets",
    "sales",
    "sale_refunds",
    "vouchers_value",
    "taps",
    "machine_debits",
    "offline_vends",
    "debits",
    "topups_count",
    "topups",
    "topup_bonus",
    "refunds_count",
    "refunds",
)
_SALE_CODES = ("sale", "points_purchase", "sale_refund", "voucher_value", "tap_delivered", "offline_vend")


def sales(conn: Connection, period: Period, outlet_id: str | None = None) -> list[dict]:
    """Per outlet and bucket: baskets and what they took from cards (sales), sale refunds, what
    vouchers paid, taps posted at its machines and their money, offline vends paid, debits (all a
    card paid there: sales − refunds + machines + offline vends), top-ups (count, money, bonus)
    and cash-desk refunds."""
    b = Buckets(period, conn.dialect.name)
    outlets, devices = outlet_directory(conn), device_directory(conn)
    owner = {o["revenue_account_id"]: oid for oid, o in outlets.items()}
    owner.update({d["account_id"]: d["outlet_id"] for d in devices.values()})
    accounts = set(owner) if outlet_id is None else {a for a, o in owner.items() if o == outlet_id}
    join, where = b.frame("t.created_at")
    codes = ",".join(f"'{c}'" for c in _SALE_CODES)
    acct = "CASE WHEN t.code = 'sale_refund' THEN t.debit_account_id ELSE t.credit_account_id END"
    booked = _rows(
        conn,
        b,
        f"SELECT {b.label('t.created_at')}, t.code, {acct}, COUNT(*), SUM(t.amount) FROM transfers t{join} "
        f"WHERE {where} AND t.code IN ({codes}) AND t.flags IN ('posted', 'post') "
        f"AND {acct} IN ({_ints(accounts)}) GROUP BY 1, 2, 3",
    )
    table: dict = {}
    for label, code, account, n, amount in booked:
        row = _row(table, period, label, {"outlet_id": owner.get(account)}, SALES_FIGURES)
        if code in ("sale", "points_purchase"):
            row["baskets"] += n if code == "sale" else 0
            row["sales"] += amount
        elif code == "sale_refund":
            row["sale_refunds"] += amount
        elif code == "voucher_value":
            row["vouchers_value"] += amount
        elif code == "tap_delivered":
            row["taps"] += n
            row["machine_debits"] += amount
        else:
            row["offline_vends"] += amount
    _cash_desk(conn, b, period, outlet_id, devices, table)
    for row in table.values():
        row["debits"] = row["sales"] - row["sale_refunds"] + row["machine_debits"] + row["offline_vends"]
    return _sorted(table)


def _cash_desk(conn, b: Buckets, period, outlet_id, devices, table) -> None:
    """Top-ups and refunds at tills (the audit log) and at kiosks (kiosk_topups), per outlet."""
    join, where = b.frame("a.at")
    only = " AND a.outlet_id = :outlet" if outlet_id else ""
    desk = _rows(
        conn,
        b,
        f"SELECT {b.label('a.at')}, a.outlet_id, a.action, COUNT(*), SUM(a.amount), "
        f"SUM({b.json_int('a.after', 'bonus')}) FROM audit_log a{join} WHERE {where} "
        f"AND a.action IN ('top_up', 'refund') AND a.path LIKE '/api/v1/cards/%' AND a.amount <> 0{only} "
        "GROUP BY 1, 2, 3",
        outlet=outlet_id,
    )
    for label, outlet, action, n, amount, bonus in desk:
        row = _row(table, period, label, {"outlet_id": outlet}, SALES_FIGURES)
        if action == "top_up":
            row["topups_count"] += n
            row["topups"] += amount
            row["topup_bonus"] += bonus
        else:
            row["refunds_count"] += n
            row["refunds"] += amount
    join, where = b.frame("k.booked_at")
    kiosk = _rows(
        conn,
        b,
        f"SELECT {b.label('k.booked_at')}, k.device_id, COUNT(*), SUM(k.amount), SUM(k.bonus) "
        f"FROM kiosk_topups k{join} WHERE {where} GROUP BY 1, 2",
    )
    for label, device, n, amount, bonus in kiosk:
        outlet = devices.get(device, {}).get("outlet_id")
        if outlet_id is not None and outlet != outlet_id:
            continue
        row = _row(table, period, label, {"outlet_id": outlet}, SALES_FIGURES)
        row["topups_count"] += n
        row["topups"] += amount
        row["topup_bonus"] += bonus


# -- tills and cashiers -----------------------------------------------------------------------------------

TILL_FIGURES = (
    "baskets",
    "basket_amount",
    "basket_refunds",
    "basket_refund_amount",
    "topups_count",
    "topups",
    "refunds_count",
    "refunds",
)


def tills(conn: Connection, period: Period, outlet_id: str | None = None) -> list[dict]:
    """Per outlet, counter (the till a basket names; top-ups and refunds name none) and cashier
    (the operator or API key that booked it) and bucket: baskets paid and their amount due,
    baskets refunded, top-ups and cash-desk refunds. Repeated requests count once."""
    b = Buckets(period, conn.dialect.name)
    join, where = b.frame("a.at")
    only = " AND a.outlet_id = :outlet" if outlet_id else ""
    kind = "CASE WHEN a.path LIKE '/api/v1/baskets%' THEN 'basket' ELSE 'card' END"
    found = _rows(
        conn,
        b,
        f"SELECT {b.label('a.at')}, a.outlet_id, {b.json_text('a.request', 'counter_id')}, a.actor, a.action, "
        f"{kind}, COUNT(*), SUM(a.amount), SUM({b.json_int('a.after', 'amount_due')}), "
        f"SUM({b.json_int('a.after', 'refunded')}) FROM audit_log a{join} WHERE {where} "
        f"AND a.action IN ('pay', 'refund', 'top_up') AND NOT {b.json_true('a.after', 'repeated')}{only} "
        "GROUP BY 1, 2, 3, 4, 5, 6",
        outlet=outlet_id,
    )
    table: dict = {}
    for label, outlet, counter, actor, action, what, n, amount, due, refunded in found:
        dims = {"outlet_id": outlet, "counter_id": counter, "cashier": actor}
        row = _row(table, period, label, dims, TILL_FIGURES)
        if action == "pay" and what == "basket":
            row["baskets"] += n
            row["basket_amount"] += due
        elif action == "refund" and what == "basket":
            row["basket_refunds"] += n
            row["basket_refund_amount"] += refunded
        elif action == "top_up":
            row["topups_count"] += n
            row["topups"] += amount
        elif action == "refund":
            row["refunds_count"] += n
            row["refunds"] += amount
    return _sorted(table)


# -- machines ------------------------------------------------------------------------------------------------

MACHINE_FIGURES = (
    "taps",
    "posted",
    "voided",
    "expired",
    "offline_vends",
    "offline_posted",
    "offline_short",
    "health_reports",
    "up_seconds",
    "uptime_percent",
    "reboots",
    "faults",
)


def machines(conn: Connection, period: Period, outlet_id: str | None = None) -> list[dict]:
    """Per device and bucket: taps resolved (posted, voided or expired: a tap counts when its
    report comes), the money posted and voided, the holds that expired without a report, offline
    vends (count, paid, short), and from its health telemetry the reports received, the seconds it
    was up (and as a percentage of the bucket), its reboots and faults (watchdog resets, crashes)."""
    b = Buckets(period, conn.dialect.name)
    devices = device_directory(conn)
    chosen = [d for d, v in devices.items() if outlet_id is None or v["outlet_id"] == outlet_id]
    if not chosen:
        return []
    ids = {"ids": chosen}
    table: dict = {}

    def row(label: str, device: str) -> dict:
        dims = {
            "outlet_id": devices[device]["outlet_id"],
            "device_id": device,
            "kind": devices[device]["kind"],
        }
        return _row(table, period, label, dims, MACHINE_FIGURES)

    in_ids = " AND {col} IN :ids" if outlet_id else ""
    join, where = b.frame("h.resolved_at")
    holds = _query(
        conn,
        b,
        f"SELECT {b.label('h.resolved_at')}, h.device_id, h.status, COUNT(*), SUM(h.posted), "
        f"SUM(h.amount - h.posted) FROM holds h{join} WHERE {where}"
        + in_ids.format(col="h.device_id")
        + " GROUP BY 1, 2, 3",
        ids if outlet_id else {},
    )
    for label, device, status, n, posted, voided in holds:
        if device not in devices:
            continue
        r = row(label, device)
        r["taps"] += n
        r["posted"] += posted
        r["voided"] += voided
        r["expired"] += n if status == "expired" else 0
    join, where = b.frame("v.booked_at")
    vends = _query(
        conn,
        b,
        f"SELECT {b.label('v.booked_at')}, v.device_id, COUNT(*), SUM(v.posted), SUM(v.short) "
        f"FROM offline_vends v{join} WHERE {where}" + in_ids.format(col="v.device_id") + " GROUP BY 1, 2",
        ids if outlet_id else {},
    )
    for label, device, n, posted, short in vends:
        if device in devices:
            r = row(label, device)
            r["offline_vends"] += n
            r["offline_posted"] += posted
            r["offline_short"] += short
    join, where = b.frame("u.hour")
    health = _query(
        conn,
        b,
        f"SELECT {b.label('u.hour')}, u.device_id, SUM(u.samples), SUM(u.up_seconds), SUM(u.reboots), "
        f"SUM(u.faults) FROM device_health_hours u{join} WHERE {where}"
        + in_ids.format(col="u.device_id")
        + " GROUP BY 1, 2",
        ids if outlet_id else {},
    )
    for label, device, samples, up, reboots, faults in health:
        if device in devices:
            r = row(label, device)
            r.update(health_reports=samples, up_seconds=up, reboots=reboots, faults=faults)
    for r in table.values():
        seconds = period.bucket_seconds(r["label"])
        r["uptime_percent"] = round(min(100.0, 100.0 * r["up_seconds"] / seconds), 1) if seconds else 0.0
    return _sorted(table)


def _query(conn: Connection, b: Buckets, sql: str, extra: dict) -> list[tuple]:
    from sqlalchemy import bindparam

    stmt = text(b.cte + sql)
    if "ids" in extra:
        stmt = stmt.bindparams(bindparam("ids", expanding=True))
    return _plain(conn.execute(stmt, {**b.params, **extra}))


# -- loyalty: points and gifts given and redeemed --------------------------------------------------------------

LOYALTY_FIGURES = (
    "point_lots",
    "points_given",
    "points_redeemed",
    "gifts_granted",
    "gifts_granted_value",
    "gifts_redeemed",
    "gifts_redeemed_value",
)


def loyalty(conn: Connection, period: Period, outlet_id: str | None = None) -> list[dict]:
    """Per outlet and bucket: bonus points given (lots issued; a basket's for its outlet, those
    earned at machines or bought with outlet_id null), points redeemed in baskets (net of those
    given back by refunds), gifts granted and redeemed there (units and their value: the
    obligation transfers of hub.gifts)."""
    b = Buckets(period, conn.dialect.name)
    table: dict = {}
    only = " AND k.outlet_id = :outlet" if outlet_id else ""
    join, where = b.frame("l.created_at")
    for label, outlet, n, pts in _rows(
        conn,
        b,
        f"SELECT {b.label('l.created_at')}, k.outlet_id, COUNT(*), SUM(l.points) FROM point_lots l "
        f"LEFT JOIN baskets k ON k.id = l.basket_id{join} WHERE {where}{only} GROUP BY 1, 2",
        outlet=outlet_id,
    ):
        row = _row(table, period, label, {"outlet_id": outlet}, LOYALTY_FIGURES)
        row["point_lots"] += n
        row["points_given"] += pts
    join, where = b.frame("m.created_at")
    for label, outlet, kind, pts in _rows(
        conn,
        b,
        f"SELECT {b.label('m.created_at')}, k.outlet_id, m.kind, SUM(m.points) FROM lot_moves m "
        f"JOIN baskets k ON k.id = m.ref{join} WHERE {where} AND m.kind IN ('redeem', 'return'){only} "
        "GROUP BY 1, 2, 3",
        outlet=outlet_id,
    ):
        row = _row(table, period, label, {"outlet_id": outlet}, LOYALTY_FIGURES)
        row["points_redeemed"] += pts if kind == "redeem" else -pts
    owner = dict(conn.execute(select(OBLIGATIONS.c.account_id, OBLIGATIONS.c.outlet_id)).all())
    accounts = [a for a, o in owner.items() if outlet_id is None or o == outlet_id]
    join, where = b.frame("t.created_at")
    acct = "CASE WHEN t.code = 'gift_grant_obligation' THEN t.debit_account_id ELSE t.credit_account_id END"
    for label, code, account, n, value in _rows(
        conn,
        b,
        f"SELECT {b.label('t.created_at')}, t.code, {acct}, COUNT(*), SUM(t.amount) FROM transfers t{join} "
        f"WHERE {where} AND t.code IN ('gift_grant_obligation', 'gift_redeem_obligation') "
        f"AND {acct} IN ({_ints(accounts)}) GROUP BY 1, 2, 3",
    ):
        row = _row(table, period, label, {"outlet_id": owner.get(account)}, LOYALTY_FIGURES)
        what = "granted" if code == "gift_grant_obligation" else "redeemed"
        row[f"gifts_{what}"] += n
        row[f"gifts_{what}_value"] += value
    return _sorted(table)


# -- vouchers ----------------------------------------------------------------------------------------------------

VOUCHER_FIGURES = ("issued", "face_value", "redeemed", "used", "value")


def vouchers(conn: Connection, period: Period, outlet_id: str | None = None) -> list[dict]:
    """Per outlet, voucher kind and bucket: vouchers the outlet issued (count, face value; the
    coalition's own: outlet_id null) and those redeemed there (redemptions, what they took from
    the vouchers, the money booked to the outlet)."""
    b = Buckets(period, conn.dialect.name)
    table: dict = {}
    join, where = b.frame("v.created_at")
    only = " AND v.issuer_outlet_id = :outlet" if outlet_id else ""
    for label, outlet, kind, n, face in _rows(
        conn,
        b,
        f"SELECT {b.label('v.created_at')}, v.issuer_outlet_id, v.kind, COUNT(*), SUM(v.face_value) "
        f"FROM vouchers v{join} WHERE {where}{only} GROUP BY 1, 2, 3",
        outlet=outlet_id,
    ):
        row = _row(table, period, label, {"outlet_id": outlet, "kind": kind}, VOUCHER_FIGURES)
        row.update(issued=n, face_value=face)
    join, where = b.frame("r.created_at")
    only = " AND r.outlet_id = :outlet" if outlet_id else ""
    for label, outlet, kind, n, used, value in _rows(
        conn,
        b,
        f"SELECT {b.label('r.created_at')}, r.outlet_id, v.kind, SUM(CASE WHEN r.used > 0 THEN 1 ELSE 0 END), "
        f"SUM(r.used), SUM(r.value) FROM voucher_redemptions r JOIN vouchers v ON v.id = r.voucher_id{join} "
        f"WHERE {where}{only} GROUP BY 1, 2, 3",
        outlet=outlet_id,
    ):
        row = _row(table, period, label, {"outlet_id": outlet, "kind": kind}, VOUCHER_FIGURES)
        row.update(redeemed=n, used=used, value=value)
    return _sorted(table)


# -- attendance ---------------------------------------------------------------------------------------------------


def attendance(conn: Connection, period: Period, outlet_id: str | None = None) -> list[dict]:
    """Distinct cards per bucket: per outlet (cards that tapped at its machines or paid a basket
    at its tills) and, with outlet_id null, over the whole coalition (a card at two outlets
    counts once there). A tap counts when its report comes."""
    b = Buckets(period, conn.dialect.name)
    dev_join, dev_outlet = _device_outlet_sql("h")
    j1, w1 = b.frame("h.resolved_at", "s1")
    j2, w2 = b.frame("k.created_at", "s2")
    only1 = f" AND {dev_outlet} = :outlet" if outlet_id else ""
    only2 = " AND k.outlet_id = :outlet" if outlet_id else ""
    union = (
        f"SELECT {b.label('h.resolved_at', 's1')} AS b, {dev_outlet} AS o, h.card_uid AS c FROM holds h"
        f"{dev_join}{j1} WHERE {w1}{only1} UNION ALL "
        f"SELECT {b.label('k.created_at', 's2')}, k.outlet_id, k.card_uid FROM baskets k{j2} WHERE {w2}{only2}"
    )
    table: dict = {}
    for label, outlet, n in _rows(
        conn, b, f"SELECT b, o, COUNT(DISTINCT c) FROM ({union}) x GROUP BY 1, 2", outlet=outlet_id
    ):
        _row(table, period, label, {"outlet_id": outlet}, ("cards",))["cards"] = n
    if outlet_id is None:
        for label, n in _rows(conn, b, f"SELECT b, COUNT(DISTINCT c) FROM ({union}) x GROUP BY 1"):
            _row(table, period, label, {"outlet_id": None}, ("cards",))["cards"] = n
    return _sorted(table)


# -- offline overspends ----------------------------------------------------------------------------------------------

OVERSPEND_FIGURES = ("vends", "amount", "posted", "short")


def overspends(conn: Connection, period: Period, outlet_id: str | None = None) -> list[dict]:
    """Offline vends the card could not (fully) pay, per device, reason and bucket (when booked):
    what was vended, what the wallet paid, what the site's offline-loss account took."""
    b = Buckets(period, conn.dialect.name)
    devices = device_directory(conn)
    join, where = b.frame("v.booked_at")
    table: dict = {}
    for label, device, reason, n, amount, posted, short in _rows(
        conn,
        b,
        f"SELECT {b.label('v.booked_at')}, v.device_id, v.overspend, COUNT(*), SUM(v.amount), SUM(v.posted), "
        f"SUM(v.short) FROM offline_vends v{join} WHERE {where} AND v.overspend IS NOT NULL GROUP BY 1, 2, 3",
    ):
        outlet = devices.get(device, {}).get("outlet_id")
        if outlet_id is not None and outlet != outlet_id:
            continue
        dims = {"outlet_id": outlet, "device_id": device, "reason": reason}
        _row(table, period, label, dims, OVERSPEND_FIGURES).update(
            vends=n, amount=amount, posted=posted, short=short
        )
    return _sorted(table)


# -- seed 000: activities and campaigns ----------------------------------------------------------------------------

ACTIVITY_FIGURES = ("first_uses", "collections", "activities", "campaigns")


def activities(conn: Connection, period: Period, outlet_id: str | None = None) -> list[dict]:
    """Seed 000's activities per location (outlet) and for the head office (outlet_id null: all
    locations): a card's first use (its first counted activity ever, where it happened) and every
    gift collected (redeemed at a till, in a basket or at a machine); collecting points or gifts
    is none. 16 activities are one campaign, a started one counts, per location and per bucket."""
    b = Buckets(period, conn.dialect.name)
    j1, w1 = b.frame("f.at")
    only = " AND a.outlet_id = :outlet" if outlet_id else ""
    first = _rows(
        conn,
        b,
        f"SELECT {b.label('f.at')}, a.outlet_id, COUNT(DISTINCT a.card_uid) FROM "
        "(SELECT card_uid, MIN(at) AS at FROM gift_activities GROUP BY card_uid) f "
        f"JOIN gift_activities a ON a.card_uid = f.card_uid AND a.at = f.at{j1} WHERE {w1}{only} GROUP BY 1, 2",
        outlet=outlet_id,
    )
    j2, w2 = b.frame("m.created_at")
    only = " AND m.outlet_id = :outlet" if outlet_id else ""
    collected = _rows(
        conn,
        b,
        f"SELECT {b.label('m.created_at')}, m.outlet_id, COUNT(DISTINCT m.ref) FROM gift_lot_moves m{j2} "
        f"WHERE {w2} AND m.kind IN ('redeem', 'delivered'){only} GROUP BY 1, 2",
        outlet=outlet_id,
    )
    table: dict = {}
    for rows, figure in ((first, "first_uses"), (collected, "collections")):
        for label, outlet, n in rows:
            for where in (outlet, None):  # the location, and the head office
                if where is None and outlet_id is not None:
                    continue
                _row(table, period, label, {"outlet_id": where}, ACTIVITY_FIGURES)[figure] += n
    for row in table.values():
        row["activities"] = row["first_uses"] + row["collections"]
        row["campaigns"] = campaigns(row["activities"])
    return _sorted(table)


# -- the list --------------------------------------------------------------------------------------------------------

_SALES_MONEY = tuple(
    f for f in SALES_FIGURES if f not in ("baskets", "taps", "topups_count", "refunds_count")
)

REPORTS: dict[str, Report] = {
    r.name: r
    for r in (
        Report(
            "sales",
            "Sales, debits, top-ups and refunds per outlet",
            sales,
            ("outlet_id",),
            SALES_FIGURES,
            "debits",
            _SALES_MONEY,
        ),
        Report(
            "tills",
            "Baskets, top-ups and refunds per till and cashier",
            tills,
            ("outlet_id", "counter_id", "cashier"),
            TILL_FIGURES,
            "basket_amount",
            ("basket_amount", "basket_refund_amount", "topups", "refunds"),
        ),
        Report(
            "machines",
            "Machines: taps, money, offline vends, uptime and faults",
            machines,
            ("outlet_id", "device_id", "kind"),
            MACHINE_FIGURES,
            "posted",
            ("posted", "voided", "offline_posted", "offline_short"),
        ),
        Report(
            "loyalty",
            "Bonus points and gifts given and redeemed per outlet",
            loyalty,
            ("outlet_id",),
            LOYALTY_FIGURES,
            "points_given",
            ("gifts_granted_value", "gifts_redeemed_value"),
        ),
        Report(
            "vouchers",
            "Vouchers issued and redeemed per outlet",
            vouchers,
            ("outlet_id", "kind"),
            VOUCHER_FIGURES,
            "redeemed",
            ("value",),
        ),
        Report(
            "attendance",
            "Attendance: distinct cards per outlet",
            attendance,
            ("outlet_id",),
            ("cards",),
            "cards",
            additive=False,
        ),
        Report(
            "overspends",
            "Offline overspends per machine",
            overspends,
            ("outlet_id", "device_id", "reason"),
            OVERSPEND_FIGURES,
            "short",
            ("amount", "posted", "short"),
        ),
        Report(
            "activities",
            "Activities and campaigns (seed 000) per location and head office",
            activities,
            ("outlet_id",),
            ACTIVITY_FIGURES,
            "activities",
            additive=False,
        ),
    )
}


def get_report(name: str) -> Report:
    found = REPORTS.get(name)
    if found is None:
        raise NotFound(f"no report {name!r}: one of {', '.join(REPORTS)}")
    return found


def run(
    conn: Connection,
    name: str,
    start: dt.datetime,
    end: dt.datetime,
    by: str = "day",
    outlet_id: str | None = None,
    keep: Engine | None = None,
    now: dt.datetime | None = None,
) -> dict:
    """A report with what it covers: its rows, and totals over them where figures add up. With
    `keep` (the hub's engine), closed buckets are read from and kept in report_buckets
    (hub.reports.cache) instead of being computed again."""
    report = get_report(name)
    if (
        outlet_id is not None
        and conn.execute(select(OUTLETS.c.id).where(OUTLETS.c.id == outlet_id)).first() is None
    ):
        raise NotFound(f"no outlet {outlet_id}")
    period = make_period(conn, start, end, by, outlet_id)
    if keep is None:
        rows = report.fn(conn, period, outlet_id)
    else:
        rows = cache.rows(conn, report.name, report.fn, period, outlet_id, keep, now or utcnow())
        rows.sort(
            key=lambda r: tuple(
                "" if r[c] is None else str(r[c]) for c in report.columns[: 1 + len(report.dims)]
            )
        )
    return {
        "report": report.name,
        "title": report.title,
        "from": period.start,
        "to": period.end,
        "by": period.by,
        "tz": period.tz,
        "outlet_id": outlet_id,
        "columns": list(report.columns),
        "money": list(report.money),
        "rows": rows,
        "totals": totals(report, rows),
    }


def totals(report: Report, rows: list[dict]) -> dict | None:
    """The sum of each figure over the rows (None where figures are distinct counts; a
    percentage is averaged)."""
    if not report.additive:
        return None
    out = {f: sum(r[f] for r in rows) for f in report.figures}
    if "uptime_percent" in out:
        measured = [r["uptime_percent"] for r in rows if r["health_reports"]]
        out["uptime_percent"] = round(sum(measured) / len(measured), 1) if measured else 0.0
    return out
