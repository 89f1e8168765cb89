"""The cash desk: top-ups (with the tier's bonus), a debit card's settlement and refunds. Every
booking is once per idempotency key."""

from __future__ import annotations

from sqlalchemy import Connection, bindparam, select

from hub.core.errors import Conflict, NotFound
from hub.ledger import ACCOUNTS, TRANSFERS, Book, net_flow, system_account
from hub.wallets import topup_bonus
from hub.wallets.cards import CARDS, CardRef, canonical_uid, card_ref, card_view, get_card

CASH_DESK = "cash desk"
SETTLEMENT_CODE = "debit_settlement"


def _ledger(conn: Connection, account_id: int) -> str:
    return conn.execute(select(ACCOUNTS.c.ledger).where(ACCOUNTS.c.id == account_id)).scalar()


def _repeat(conn: Connection, key: str, account_id: int, amount: int) -> dict | None:
    """The transfer booked earlier under this idempotency key, if any."""
    done = conn.execute(select(TRANSFERS).where(TRANSFERS.c.idempotency_key == key)).mappings().first()
    if done is not None and (
        account_id not in (done["credit_account_id"], done["debit_account_id"])
        or (amount is not None and done["amount"] != amount)
    ):
        raise Conflict(f"idempotency key {key} was used for another booking")
    return done


# the card and its wallet's ledger in one query, built once
_CARD = (
    select(CARDS, ACCOUNTS.c.ledger.label("wallet_ledger"))
    .outerjoin(ACCOUNTS, ACCOUNTS.c.id == CARDS.c.account_id)
    .where(CARDS.c.uid == bindparam("uid"))
)


def top_up(
    conn: Connection,
    uid: str,
    amount: int,
    key: str,
    reason: str = "",
    site_id: str | None = None,
    new_key: bool = False,
) -> dict:
    """Credit a wallet from the cash desk, plus the top-up bonus its tier earns at `site_id`
    (the site's tiers, or the default list). A repeated key books nothing new. new_key: the
    key was claimed by this very transaction (hub.api.deps.fresh_key), so nothing can be
    booked under it yet."""
    row = conn.execute(_CARD, {"uid": canonical_uid(uid)}).mappings().first()
    if row is None:
        raise NotFound(f"no card {uid}")
    card = card_ref(row)
    if card.kind == "debit":
        raise Conflict(f"card {uid} is a debit card, paid later: settle what it owes instead")
    done = None if new_key else _repeat(conn, key, card.account_id, amount)
    if done is not None:
        bonus = (
            conn.execute(
                select(TRANSFERS.c.amount).where(TRANSFERS.c.idempotency_key == key + "/bonus")
            ).scalar()
            or 0
        )
        return {"transfer": done["id"], "bonus": bonus, "repeated": True, **card_view(conn, uid)}
    ledger = row["wallet_ledger"]
    book = Book(conn)
    cash = system_account(conn, ledger, "cash", CASH_DESK)
    tid = book.transfer(
        cash, card.account_id, amount, code="topup", reason=reason or "top-up at the cash desk", key=key
    )
    bonus = topup_bonus.bonus_for(conn, ledger, amount, site_id)
    if bonus:
        source = system_account(conn, ledger, "bonus", topup_bonus.PROMOTIONS)
        book.transfer(
            source,
            card.account_id,
            bonus,
            code=topup_bonus.BONUS_CODE,
            reason=f"top-up bonus on {amount}",
            key=key + "/bonus",
        )
    book.flush()
    return {"transfer": tid, "bonus": bonus, "repeated": False, **card_view(conn, uid, card)}


def unspent_bonus(conn: Connection, account_id: int, available: int) -> int:
    """Bonus credit still in the wallet. The visitor's own money counts as spent
    first, so what is left is bonus as far as the bonus credited reaches."""
    codes = (topup_bonus.BONUS_CODE, topup_bonus.FORFEIT_CODE)
    return max(0, min(available, net_flow(conn, account_id, TRANSFERS.c.code.in_(codes))))


def settled_card(conn: Connection, uid: str) -> tuple[CardRef, dict]:
    """The card and its view, refused while taps on it wait for their report."""
    card, view = get_card(conn, uid), card_view(conn, uid)
    if view["held"]:
        raise Conflict(f"card {uid} has {view['held']} held for taps not reported yet; try again")
    return card, view


def settle(conn: Connection, uid: str, key: str, amount: int | None = None) -> dict:
    """The holder of a debit card pays at the cash desk what the card owes (all of it unless
    `amount` says less); a debit card holds no credit, so never more."""
    card, view = settled_card(conn, uid)
    if card.kind != "debit":
        raise Conflict(f"card {uid} is a {card.kind} card; only a debit card is settled")
    done = _repeat(conn, key, card.account_id, amount)
    if done is not None:
        return {"settled": done["amount"], "repeated": True, **view}
    owed = max(0, -view["available"])
    amount = owed if amount is None else amount
    if not 0 < amount <= owed:
        raise Conflict(f"card {uid} owes {owed}; a settlement pays between 1 and that")
    book = Book(conn)
    cash = system_account(conn, _ledger(conn, card.account_id), "cash", CASH_DESK)
    book.transfer(
        cash,
        card.account_id,
        amount,
        code=SETTLEMENT_CODE,
        reason=f"debit card settled: {amount} of {owed} owed",
        key=key,
    )
    book.flush()
    return {"settled": amount, "repeated": False, **card_view(conn, uid)}


def refund(conn: Connection, uid: str, key: str) -> dict:
    """Pay back the card's own money at the cash desk; its unspent bonus lapses. A debit
    card that owes money is settled instead: `refunded` is then negative, what was paid in."""
    card, view = settled_card(conn, uid)
    done = _repeat(conn, key, card.account_id, None)
    if done is not None:
        sign = -1 if done["code"] == SETTLEMENT_CODE else 1
        return {"refunded": sign * done["amount"], "repeated": True, **view}
    if view["available"] < 0:
        settled = settle(conn, uid, key)
        return {"refunded": -settled["settled"], "bonus_lapsed": 0, "repeated": False, **card_view(conn, uid)}
    ledger = _ledger(conn, card.account_id)
    bonus = unspent_bonus(conn, card.account_id, view["available"])
    paid_back = view["available"] - bonus
    book = Book(conn)
    if paid_back:
        book.transfer(
            card.account_id,
            system_account(conn, ledger, "cash", CASH_DESK),
            paid_back,
            code="refund",
            reason="balance paid back",
            key=key,
        )
    if bonus:
        book.transfer(
            card.account_id,
            system_account(conn, ledger, "bonus", topup_bonus.PROMOTIONS),
            bonus,
            code=topup_bonus.FORFEIT_CODE,
            reason="bonus lapses with the refund",
            key=key + "/bonus",
        )
    book.flush()
    return {"refunded": paid_back, "bonus_lapsed": bonus, "repeated": False, **card_view(conn, uid)}
