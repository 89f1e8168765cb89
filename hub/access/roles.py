"""The permission table: what each right allows, and which rights each role holds.

Every REST route names one permission (hub/api/auth.py); a caller holds it through their role
(an API key may hold fewer). tests/test_permissions.py walks every route against this table.
"""

from __future__ import annotations

PERMISSIONS: dict[str, str] = {
    "cards.read": "identify a card: balance, held, points, gifts, history",
    "cards.write": "issue, block, unblock, replace and link cards; card kinds and discounts",
    "holders.read": "a card holder's personal data (name, e-mail, statement) and a digital card's QR",
    "money.topup": "top up a card",
    "money.refund": "pay back a card's money at the cash desk (a cashier up to the refund limit)",
    "money.refund_over_limit": "refunds over a cashier's limit",
    "sales.read": "paid baskets",
    "sales.pay": "quote and pay baskets, buy points, choose and redeem gifts, count activities",
    "sales.refund": "refund a paid basket",
    "gifts.give": "give gifts from staff",
    "vouchers.issue": "issue, cancel and deliver vouchers (seed 001); the key tills check codes with",
    "vouchers.read": "vouchers, their status, redemptions and deliveries",
    "devices.read": "controllers, their health, commands and loyalty settings",
    "devices.write": "register controllers, change prices, send commands, rotate keys",
    "firmware.publish": "publish signed firmware bundles and roll them out to controllers",
    "loyalty.read": "outlets, counters, articles, discounts, rules, tiers and settings",
    "loyalty.write": "change outlets' counters, articles, discounts, rules, tiers and settings",
    "sites.write": "create sites and outlets",
    "reports.read": "the ledgers, the settlement between outlets, activities, offline overspends",
    "reports.schedule": "choose which reports are e-mailed to an outlet's contacts, and when",
    "settlement.close": "close a settlement period (its figures freeze) and book corrections",
    "maintenance.run": "run expiry of points and gifts by hand",
    "users.manage": "add operators, reset passwords, disable users (a manager: of their outlets)",
    "keys.manage": "create and revoke API keys",
    "audit.read": "the audit log and refused device messages",
}

ALL = frozenset(PERMISSIONS)
_READ = frozenset(p for p in PERMISSIONS if p.endswith(".read"))

ROLES: dict[str, frozenset[str]] = {
    "admin": ALL,
    "manager": ALL - {"sites.write", "keys.manage"},
    "cashier": frozenset(
        {"cards.read", "cards.write", "money.topup", "money.refund", "sales.pay", "gifts.give"}
    ),
    "kiosk": frozenset({"cards.read", "money.topup"}),
    "auditor": _READ,
}

# A cashier pays back at most this much per refund (minor units) unless set otherwise
# (Settings.cashier_refund_limit); a manager's permission money.refund_over_limit lifts it.
DEFAULT_REFUND_LIMIT = 10_000  # Settings.cashier_refund_limit


def role_permissions(role: str) -> frozenset[str]:
    return ROLES.get(role, frozenset())
