"""The operator console: pages served by the hub itself at `/`, behind the operator login.

Server-rendered (Jinja2 templates in `templates/`, htmx and a style sheet in `static/`, no build
step), in English and German per operator, amounts in the site's currency and times in its time
zone. A sibling of the REST API above it in the layers: it finds the operator as the API does
(hub.api.auth, the session cookie of the login), writes through the API's audited database
(hub.api.deps.AuditedDb, so every change lands in the audit log and the money limits hold) and
calls the same domain services. `install(app)` adds it to the API's app (hub.service does).

Pages: `session` (login, logout, language), `cards` (look up, top up, block, refund, history),
`live` (controllers online, health, refused messages), `machines` (prices, new controllers),
`loyalty` (top-up tiers, outlets, switching rules on and off), `money` (charts of sales,
attendance and campaigns from hub.reports; ledgers, settlement, offline overspends), `point_rules` (making, editing and deleting bonus-point rules), `offers` (making discount
groups, gift items and chain rules), `admin` (users, API keys, the audit log). docs/console.md describes them.
"""

from __future__ import annotations

from importlib import resources

from fastapi import FastAPI, Request
from fastapi.staticfiles import StaticFiles

from hub.console import admin, cards, live, loyalty, machines, money, offers, point_rules, session
from hub.console.web import LoginNeeded, NotPermitted, login_redirect

STATIC = "/static"


def install(app: FastAPI) -> None:
    """The console's pages and static files on `app` (made by hub.api.app.create_app)."""
    app.mount(STATIC, StaticFiles(directory=str(resources.files("hub.console") / "static")), name="static")
    for module in (session, cards, live, machines, point_rules, offers, loyalty, money, admin):
        app.include_router(module.router, include_in_schema=False)

    @app.exception_handler(LoginNeeded)
    async def _login_needed(request: Request, exc: LoginNeeded):
        return login_redirect(request, exc.next_path)

    @app.exception_handler(NotPermitted)
    async def _not_permitted(request: Request, exc: NotPermitted):
        page = exc.page
        return page.render(
            "error.html",
            403,
            title=page._("Not allowed"),
            detail=page._("Your role ({role}) may not open this page.", role=page.caller.role),
        )
