"""Gifts and the bonus-gift chain across outlets (seeds 002 and 004).

A gift item (a drink, a slide ride) is its own ledger of whole units, "GIFT:<item>"; a card gets a
wallet on it on first use. Units come to a card as dated lots: granted by a chain rule (after N
activities at outlets of a kind within one visit), chosen with points (seed 002: a points level lets
the visitor choose a gift and pay for it with points), or handed out manually. Units leave it when
they are redeemed (at a till, in a basket, at a machine: the oldest valid lot first), reset at the
site's exit, or expire (an item's `valid_days`, seed 001: a voucher's validity is set
electronically; `expire` books them out). They are bound to the card (not transferable, seed 001)
and move only with it when it is replaced or linked (`move_lots`).

Obligations (seed 004), booked as transfers on the money ledger of the item (e.g. CHF) between
each outlet's obligation account and the settlement node, at the unit value fixed at the grant:
  * grant:      granting outlet → settlement node   (the outlet owes the node)
  * redemption: settlement node → redeeming outlet  (the node owes the outlet)
  * a refunded basket reverses its redemption: redeeming outlet → settlement node.
A negative obligation-account balance is what the outlet owes, a positive one what it is owed; the
settlement report is a query over these transfers (`settlement`).

Exit reset (seed 004: "unused gifts and bonuses cannot be taken away. At the exit from the water
park, they are reset"), per site (`SiteGiftSettings`): the open units of lots granted at the site are
booked out to "gifts expired" (lots are kept, a move records the reset) and the visit ends, so the
chain rules count afresh on the next visit; if the site says so, the card's unused bonus points
earned at the site's outlets are booked out too ("points reset"; bought points stay).

DECISION on the obligations of an unredeemed gift: the seed names exactly two moments — the
outlet's obligation arises when the gift is charged to the customer, the node's when it is written
off for the customer — and a reset is neither, so the granting outlet's obligation stands ("kept",
the default): the settlement node moves the value from its clearing account to its "unredeemed
gifts" account, where it stays as the node's. A site may choose "released" instead: the node gives
the value back to the granting outlet. Either way the node's clearing account nets to zero for
every gift once it is redeemed or reset.

Who grants: a chain-rule gift is charged by the outlet whose activity completes the rule; a gift
chosen with points by the outlet where it is chosen. An expired gift's obligation is settled like
an unredeemed one at its granting site's exit.

Activities: a chain rule counts the activities `count_activity` is told of (a till calling
POST /cards/{uid}/activities; a machine batch's delivered taps all at once, `count_activities`)
within the card's open visit of the site; a visit opens with the first activity and ends at the
exit. A paid basket is not an activity by itself.

The package, each module importing only modules listed before it:
  items     gift items, chain rules and each site's gift settings
  accounts  gift wallets, the issued/redeemed/expired accounts, obligation and settlement-node accounts
  lots      lots of units and their moves: grant, take, move to a replacing card, where redeemable
  holds     a machine's gift held at a tap and settled at its report
  chain     activities, visits and the chain rules' grants
  resets    the exit reset and expiry
  tills     choosing with points, giving, redeeming at a till or in a basket, giving back, vouchers
  reports   the settlement between outlets and the settlement node, seed 000's activity report
This package re-exports their public names: callers write `from hub import gifts; gifts.grant(...)`.
"""

from __future__ import annotations

from hub.core.errors import GiftError  # noqa: F401
from hub.gifts.accounts import (  # noqa: F401
    EXPIRED,
    GIFT_ACCOUNTS,
    ISSUED,
    NODE,
    OBLIGATIONS,
    REDEEMED,
    UNREDEEMED,
    gift_account,
    node_account,
    obligation_account,
)
from hub.gifts.chain import (  # noqa: F401
    ACTIVITIES,
    VISITS,
    Chain,
    active_rules,
    count_activities,
    count_activity,
    counts_at,
    grants_due,
    load_chain,
    lock_cards,
)
from hub.gifts.holds import (  # noqa: F401
    hold_gift,
    hold_unit,
    load_gift_holds,
    settle_gift,
    settle_hold,
)
from hub.gifts.items import (  # noqa: F401
    ITEMS,
    RULES,
    SITE_SETTINGS,
    create_item,
    create_rule,
    generation,
    get_item,
    get_rule,
    get_site_settings,
    list_items,
    list_rules,
    set_rule_active,
    set_site_settings,
)
from hub.gifts.lots import (  # noqa: F401
    HOLDS,
    LOTS,
    MOVES,
    card_gifts,
    grant,
    move_lots,
    open_lots,
    redeemable_at,
)
from hub.gifts.reports import (  # noqa: F401
    ACTIVITIES_PER_CAMPAIGN,
    activity_report,
    campaigns,
    settlement,
)
from hub.gifts.resets import (  # noqa: F401
    EXITS,
    expire,
    reset_at_exit,
)
from hub.gifts.tills import (  # noqa: F401
    choices,
    choose_with_points,
    cover_lines,
    give,
    give_back,
    redeem,
    redeem_at_till,
    units_available,
)
