"""A small site for the console's tests: a hub app with the console on a SQLite file, a site
with two outlets, operators of each role and a few cards."""

from __future__ import annotations

import shutil
from pathlib import Path

from fastapi import FastAPI

from hub import console
from hub.access import operators
from hub.api.app import create_app
from hub.core.clock import utcnow
from hub.devices import registry
from hub.loyalty import outlets
from hub.migrations import open_database
from hub.wallets import cards, topup_bonus

PASSWORD = "correct horse battery"
USERS = {
    # name: (role, outlet, locale)
    "admin": ("admin", None, "en"),
    "cashier": ("cashier", "bar", "en"),
    "kassierer": ("cashier", "bar", "de"),
    "auditor": ("auditor", None, "en"),
    "tech": ("manager", None, "en"),
}


def make_site(db_url: str) -> FastAPI:
    engine = open_database(db_url)
    with engine.begin() as conn:
        outlets.create_site(conn, "park", "Water park", tz="Europe/Zurich")
        outlets.create_outlet(conn, "CHF", "bar", "park", "Bar Lagune")
        outlets.create_outlet(conn, "CHF", "shop", "park", "Shop")
        for name, (role, outlet, locale) in USERS.items():
            operators.add_operator(conn, name, PASSWORD, role, outlet_id=outlet, locale=locale)
        for uid in ("04A1B2C3D4", "04A1B2C3D5", "04A1B2C3D6"):
            cards.issue_card(conn, "CHF", uid)
        topup_bonus.set_tiers(conn, "CHF", [{"min_amount": 5000, "percent": "5"}])
        registry.add_device(conn, "disp-1", "park", 250, "CHF", "Dispenser 1")
        registry.add_device(conn, "gate-1", "park", 0, "CHF", "Exit gate", kind="turnstile")
    return site_app(engine)


def site_app(engine) -> FastAPI:
    """The hub's app with the console, on `engine`."""
    app = create_app(engine, "CHF")
    console.install(app)
    return app


def copy_site(template: Path, folder: Path) -> FastAPI:
    """The site of make_site, copied from a database made once (faster than making it anew)."""
    for suffix in ("", "-wal", "-shm"):
        source = template.with_name(template.name + suffix)
        if source.exists():
            shutil.copy(source, folder / (template.name + suffix))
    return site_app(open_database(f"sqlite:///{folder / template.name}"))


def login_session(app: FastAPI, username: str) -> str:
    """A session token for `username`, as the login makes one."""
    with app.state.engine.begin() as conn:
        operator_id = operators.check_password(conn, username, PASSWORD, utcnow())
        token, _ = operators.start_session(conn, operator_id, "cookie", utcnow())
    return token
