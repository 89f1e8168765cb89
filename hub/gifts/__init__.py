"""Gifts and the bonus-gift chain across outlets (seeds 002 and 004). hub/gifts/lots.py says how
units, obligations, activities and the exit reset work."""
from __future__ import annotations

from hub.core.errors import GiftError
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
