"""What every console page shares: who is asking (the operator's session, found by
hub.api.auth as for the REST API), their language, currency and time zone, the templates, the
same-origin check on forms, and the audited database of hub.api.deps.

A page names its permission: `page: Annotated[Page, Needs("cards.read")]`. Without a session
the browser is sent to the login page (303; an htmx request gets HX-Redirect); without the
permission the page answers 403. A form that writes also depends on `same_origin`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from importlib import resources
from typing import Annotated, Any
from urllib.parse import quote, urlsplit
from zoneinfo import ZoneInfo

from fastapi import Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from sqlalchemy import Connection, select

from hub.access import operators
from hub.access.callers import Caller
from hub.api.auth import SESSION_COOKIE, authenticate
from hub.api.deps import AuditedDb
from hub.console import i18n
from hub.core.errors import NotFound
from hub.loyalty.outlets import get_outlet, get_site, list_sites

TEMPLATES = Jinja2Templates(directory=str(resources.files("hub.console") / "templates"))
LOGIN = "/login"

# The pages in the menu: (text, path, the permissions of which one shows it).
MENU: list[tuple[str, str, tuple[str, ...]]] = [
    ("Cards", "/cards", ("cards.read",)),
    ("Live", "/live", ("devices.read",)),
    ("Machines", "/machines", ("devices.read",)),
    ("Loyalty", "/loyalty", ("loyalty.read",)),
    ("Money", "/money", ("reports.read",)),
    ("Admin", "/admin", ("users.manage", "keys.manage", "audit.read")),
]


class LoginNeeded(Exception):
    """No live session: the browser goes to the login page."""

    def __init__(self, next_path: str):
        self.next_path = next_path


class NotPermitted(Exception):
    """A session without the permission the page needs: 403."""

    def __init__(self, page: Page):
        self.page = page


@dataclass
class Page:
    """The request as a page sees it: the operator, their language, the site's money and time."""

    request: Request
    caller: Caller
    locale: str
    tz: ZoneInfo
    currency: str
    messages: list[tuple[str, str]] = field(default_factory=list)  # (kind, text): ok, error

    def __post_init__(self) -> None:
        self._ = i18n.translator(self.locale)

    def may(self, *permissions: str) -> bool:
        return any(self.caller.may(p) for p in permissions)

    def money(self, cents: int | None) -> str:
        return i18n.money(cents, self.currency, self.locale)

    def time(self, moment: dt.datetime | None, seconds: bool = False) -> str:
        return i18n.local_time(moment, self.tz, self.locale, seconds)

    def error(self, exc: Exception) -> str:
        """A domain error's message in the operator's language (i18n.domain_message)."""
        return i18n.domain_message(exc, self.locale)

    def reason(self, code: str | None) -> str:
        """A denial's or refusal's code in words (i18n.reason)."""
        return i18n.reason(code, self.locale)

    def menu(self) -> list[tuple[str, str]]:
        return [(self._(text), path) for text, path, needs in MENU if self.may(*needs)]

    def db(self, body: dict | None = None) -> AuditedDb:
        """The app's database, each write audited as the REST API's are (hub.api.deps): the
        audit entry records `body`, the form's fields as the API would take them, and the
        action is the route's name (the console's routes are named as the API's, so a top-up
        counts against the same daily ceiling whichever way it came)."""
        return AuditedDb(self.request.app.state.db, self.request, body)

    def render(self, template: str, status_code: int = 200, **values: Any) -> HTMLResponse:
        response = TEMPLATES.TemplateResponse(
            self.request,
            template,
            {"page": self, "_": self._, **values},
            status_code=status_code,
        )
        # Pages show balances and keys: never from a cache, never in a frame.
        response.headers["Cache-Control"] = "no-store"
        response.headers["X-Frame-Options"] = "DENY"
        return response


def _settings(conn: Connection, caller: Caller) -> tuple[str, str]:
    """The operator's locale and the time zone of their site (an operator bound to none: the
    only site's, or the first one's; UTC on a hub without sites)."""
    row = conn.execute(
        select(operators.OPERATORS.c.locale).where(operators.OPERATORS.c.username == caller.name)
    ).first()
    locale = row[0] if row else "en"
    try:
        site_id = caller.site_id
        if site_id is None and caller.outlet_id is not None:
            site_id = get_outlet(conn, caller.outlet_id)["site_id"]
        if site_id is not None:
            return locale, get_site(conn, site_id)["tz"]
    except NotFound:  # an outlet or site removed under a session: the pages still open
        pass
    sites = list_sites(conn)
    return locale, sites[0]["tz"] if sites else "UTC"


def session_caller(request: Request) -> Caller | None:
    """The operator of the request's session cookie (hub.api.auth.authenticate, the cookie only:
    the console takes no API keys and no bearer tokens)."""
    cookie = request.cookies.get(SESSION_COOKIE)
    if not cookie:
        return None
    try:
        caller = authenticate(request, None, None, cookie)
    except HTTPException:
        return None
    return caller if caller.kind == "operator" else None


def current_page(request: Request) -> Page:
    caller = session_caller(request)
    if caller is None:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        if request.method != "GET":  # a form sent after the session ended: back to its page
            referer = urlsplit(request.headers.get("referer", ""))
            target = referer.path or "/" if referer.netloc == request.headers.get("host") else "/"
        raise LoginNeeded(target)
    locale, tz = request.app.state.db.read(_settings, caller)
    return Page(request, caller, i18n.pick_locale(locale), ZoneInfo(tz), request.app.state.currency)


def Needs(*permissions: str, coalition: bool = False) -> Any:
    """A dependency: the page of an operator holding one of `permissions`, else 403; with
    `coalition`, also 403 to an operator bound to an outlet or site (what concerns every outlet)."""

    def check(page: Page = Depends(current_page)) -> Page:
        if permissions and not page.may(*permissions):
            raise NotPermitted(page)
        if coalition and page.caller.scoped:
            raise NotPermitted(page)
        return page

    return Depends(check)


async def same_origin(request: Request) -> None:
    """A form's POST must come from a page of this hub: its Origin (or, lacking one, its Referer)
    names the host and port the request was sent to (its Host header). The scheme is not
    compared, so that a proxy which ends TLS in front of the hub changes nothing. The session
    cookie is SameSite=strict as well; this also refuses a form posted from another site on the
    same registrable domain, and a browser that sends neither header."""
    origin = request.headers.get("origin") or request.headers.get("referer")
    host = request.headers.get("host", "")
    if not origin or not host or urlsplit(origin).netloc.lower() != host.lower():
        raise HTTPException(403, "cross-origin form refused")


async def form_data(request: Request) -> dict[str, str]:
    """The form's fields as strings (a field sent twice: its last value). A dependency, so that
    the route itself can be a plain `def`: FastAPI runs it in the thread pool, and its database
    work does not hold up the event loop the MQTT bridge shares (hub.service)."""
    form = await request.form()
    return {k: v for k, v in form.items() if isinstance(v, str)}


Form = Annotated[dict[str, str], Depends(form_data)]


def login_redirect(request: Request, next_path: str) -> Response:
    url = f"{LOGIN}?next={quote(next_path, safe='/')}"
    if request.headers.get("hx-request"):
        return Response(status_code=204, headers={"HX-Redirect": url})
    return RedirectResponse(url, status_code=303)


def safe_next(path: str | None) -> str:
    """A path on this hub to go on to after the login (never another site)."""
    if not path or not path.startswith("/") or path.startswith("//") or "\\" in path:
        return "/"
    return path
