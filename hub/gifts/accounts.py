"""The gift side's accounts: a card's gift wallet on an item's ledger, the system accounts gifts
are issued from and redeemed or expired to, each outlet's obligation account and the settlement
node's, with the account ids cached per Book (one transaction)."""

from __future__ import annotations

import weakref

from sqlalchemy import Connection, select

from hub.core.errors import Invalid
from hub.ledger import Book, create_account, system_account
from hub.tables.gifts import GiftAccount, ObligationAccount

GIFT_ACCOUNTS = GiftAccount.__table__
OBLIGATIONS = ObligationAccount.__table__

ISSUED, REDEEMED, EXPIRED = "gifts issued", "gifts redeemed", "gifts expired"
NODE, UNREDEEMED = "settlement node", "unredeemed gifts"


# Account ids the gift side looked up, per Book (one transaction): a batch of taps asks for the same
# system, obligation and gift-wallet accounts again and again. An account made in the transaction
# goes with its Book if the transaction rolls back.
_IDS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _once(book: Book | None, key: tuple, find) -> int | None:
    if book is None:
        return find()
    ids = _IDS.setdefault(book, {})
    if key not in ids:
        found = find()
        if found is None:
            return None  # not made yet: ask again next time
        ids[key] = found
    return ids[key]


def gift_account(
    conn: Connection, uid: str, item: dict, create: bool = True, book: Book | None = None
) -> int | None:
    """The card's wallet on the item's ledger (made on first use when create)."""

    def find():
        found = conn.execute(
            select(GIFT_ACCOUNTS.c.account_id).where(
                GIFT_ACCOUNTS.c.card_uid == uid, GIFT_ACCOUNTS.c.item_id == item["id"]
            )
        ).scalar()
        if found is None and create:
            found = create_account(conn, item["ledger"], "wallet", f"card {uid} gift {item['id']}")
            conn.execute(GIFT_ACCOUNTS.insert().values(card_uid=uid, item_id=item["id"], account_id=found))
        return found

    return _once(book, ("wallet", uid, item["id"]), find)


def cache_gift_accounts(book: Book, uids: list[str]) -> None:
    """Look up the cards' gift wallets at once for the book (a machine's batch of taps), so that
    `gift_account` finds them without a query."""
    raw, ids = book.raw, _IDS.setdefault(book, {})
    for uid, item_id, account in raw.rows(
        f"SELECT card_uid, item_id, account_id FROM gift_accounts WHERE card_uid IN ({raw.marks(len(uids))})",
        uids,
    ):
        ids[("wallet", uid, item_id)] = account


def load_unlocked(book: Book | None, account_id: int) -> int:
    """Read a system account (it may go negative) into the book without a row lock: no hot row is
    locked on the booking path; its balance changes by deltas at flush."""
    if book is not None:
        book.load([account_id], lock=False)
    return account_id


def _system(conn: Connection, book: Book | None, ledger: str, kind: str, name: str) -> int:
    return load_unlocked(
        book, _once(book, ("system", ledger, kind, name), lambda: system_account(conn, ledger, kind, name))
    )


def sink_account(conn: Connection, book: Book, item: dict, name: str) -> int:
    return _system(conn, book, item["ledger"], "gifts", name)


def obligation_account(conn: Connection, outlet: dict, book: Book | None = None) -> int:
    """The outlet's account for gift obligations with the settlement node, made on first use."""

    def find():
        found = conn.execute(
            select(OBLIGATIONS.c.account_id).where(OBLIGATIONS.c.outlet_id == outlet["id"])
        ).scalar()
        if found is None:
            found = create_account(
                conn, outlet["ledger"], "gift_obligation", f"outlet {outlet['id']} gifts", allow_negative=True
            )
            conn.execute(OBLIGATIONS.insert().values(outlet_id=outlet["id"], account_id=found))
        return found

    return load_unlocked(book, _once(book, ("obligation", outlet["id"]), find))


def node_account(conn: Connection, currency: str, name: str = NODE, book: Book | None = None) -> int:
    return _system(conn, book, currency, "settlement", name)


def check_currency(item: dict, outlet: dict) -> None:
    if outlet["ledger"] != item["currency"]:
        raise Invalid(
            f"outlet {outlet['id']} books {outlet['ledger']}, gift {item['id']} is "
            f"settled in {item['currency']}"
        )
