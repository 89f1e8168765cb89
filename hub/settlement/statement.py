"""A period's statement: per outlet (and the settlement node) the money it took in, what it
received from cards, the gifts it gave and redeemed, the top-up bonus and gifts it gave and how
much of them was spent or handed over elsewhere (hub.settlement.guard), whom it owes and who owes
it, one net figure; and the payments that settle the nets, fewest first (hub.settlement.netting).
Every figure lists the ledger transfers behind it.

The whole history of every card wallet the period touches is replayed, to the period's end
(hub.settlement.history, hub.settlement.allocation), since a spend today may use a top-up of last
month; the figures are those of the transfers that count in the period (hub.settlement.periods)."""

from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass

from sqlalchemy import Connection

from hub.settlement import guard, history, periods
from hub.settlement.allocation import NODE, Allocation
from hub.settlement.attribution import WALLET, Attribution, owners
from hub.settlement.netting import fewest_payments

FIGURES = (
    "cash_in",
    "from_cards",
    "gifts_given",
    "gifts_redeemed",
    "gifts_released",
    "bonus_given",
    "bonus_redeemed_elsewhere",
)


@dataclass
class Replayed:
    statement: dict
    members: dict[str, dt.datetime]  # the transfers that count in the period, and when


def replay(conn: Connection, ledger: str, since: dt.datetime, until: dt.datetime) -> Replayed:
    periods.check_range(since, until)
    closed = periods.closed(conn, ledger)
    timed = []
    for booked, recorded in history.load(conn, ledger, since, until, closed):
        at = recorded or periods.effective_at(booked.created_at, closed)
        if at < until:
            timed.append((at, booked))
    # Transfers of one booking may carry one time: money into a wallet before money out of it.
    timed.sort(key=lambda t: (t[0], t[1].created_at, t[1].credit_kind != WALLET, t[1].id))
    cash_desk = [b.id for _, b in timed if "cash" in (b.debit_kind, b.credit_kind)]
    owned = owners(conn, ledger, cash_desk)
    allocation = Allocation()
    attribution = Attribution(owned, allocation, [b for _, b in timed])
    counted: dict[str, dt.datetime] = {}
    corrections = []
    for at, booked in timed:
        attribution.apply(booked)
        if at >= since:
            counted[booked.id] = at
            if booked.created_at < since:
                corrections.append(booked.id)
    elsewhere = guard.gifts_redeemed_elsewhere(conn, ledger, since, until)
    statement = build(allocation, counted, owned.names, elsewhere)
    statement.update(
        ledger=ledger,
        since=since.isoformat(),
        until=until.isoformat(),
        corrections=corrections,
        period=None,
    )
    return Replayed(statement, counted)


def report(conn: Connection, ledger: str, since: dt.datetime, until: dt.datetime) -> dict:
    """The statement of any period, as the ledger stands now (a closed period's own figures
    where it is closed)."""
    return replay(conn, ledger, since, until).statement


def _figure() -> dict:
    return {"amount": 0, "transfers": {}}  # an ordered set until `_listed`


def _add(figure: dict, amount: int, transfer: str) -> None:
    figure["amount"] += amount
    figure["transfers"][transfer] = None


def _listed(figure: dict) -> dict:
    return {**figure, "transfers": list(figure["transfers"])}


def build(
    allocation: Allocation, counted: dict[str, dt.datetime], names: dict[str, str], elsewhere: dict[str, dict]
) -> dict:
    parties: dict[str, dict] = {}

    def party(pid: str) -> dict:
        if pid not in parties:
            parties[pid] = {
                "outlet_id": pid,
                "name": "settlement node" if pid == NODE else names.get(pid, ""),
                **{name: _figure() for name in FIGURES},
                "gifts_redeemed_elsewhere": {"amount": 0, "lot_moves": []},
                "owes": {},
                "owed": {},
            }
        return parties[pid]

    for pid, figure in elsewhere.items():
        party(pid)["gifts_redeemed_elsewhere"] = figure

    for f in allocation.figures:
        if f.transfer in counted:
            _add(party(f.party)[f.name], f.amount, f.transfer)
    for flow in allocation.flows:
        if flow.transfer in counted:
            _add(party(flow.payer)["owes"].setdefault(flow.payee, _figure()), flow.amount, flow.transfer)
            _add(party(flow.payee)["owed"].setdefault(flow.payer, _figure()), flow.amount, flow.transfer)
    outlets = []
    for pid in sorted(parties, key=lambda p: (p == NODE, p)):
        p = parties[pid]
        for name in FIGURES:
            p[name] = _listed(p[name])
        p["owes"] = [{"to": k, **_listed(v)} for k, v in sorted(p["owes"].items())]
        p["owed"] = [{"by": k, **_listed(v)} for k, v in sorted(p["owed"].items())]
        p["net"] = sum(o["amount"] for o in p["owed"]) - sum(o["amount"] for o in p["owes"])
        outlets.append(p)
    return {
        "outlets": outlets,
        "payments": fewest_payments({p["outlet_id"]: p["net"] for p in outlets}),
    }


def to_csv(statement: dict) -> str:
    """The statement as CSV: one row per outlet and figure (with the transfers behind it), one
    per owing between two parties, one per payment."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["section", "outlet_id", "figure", "counterparty", "amount", "transfers"])
    for p in statement["outlets"]:
        for name in FIGURES:
            figure = p[name]
            writer.writerow(
                ["outlet", p["outlet_id"], name, "", figure["amount"], " ".join(figure["transfers"])]
            )
        mine = p["gifts_redeemed_elsewhere"]
        moves = " ".join(str(m) for m in mine["lot_moves"])
        writer.writerow(["outlet", p["outlet_id"], "gifts_redeemed_elsewhere", "", mine["amount"], moves])
        for owing in p["owes"]:
            writer.writerow(
                ["owes", p["outlet_id"], "owes", owing["to"], owing["amount"], " ".join(owing["transfers"])]
            )
        writer.writerow(["outlet", p["outlet_id"], "net", "", p["net"], ""])
    for pay in statement["payments"]:
        writer.writerow(["payment", pay["from"], "pays", pay["to"], pay["amount"], ""])
    return out.getvalue()
