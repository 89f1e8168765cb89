"""The Admin pages: operators (add, disable, enable, new password), API keys (create — the key
is shown once, on the answer to the form —, revoke) and the audit log with its CSV download
(GET /api/v1/audit.csv, which takes the console's session too). Each page needs its own
permission: users.manage, keys.manage, audit.read; the writes are audited as the API's."""

from __future__ import annotations

import re
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends
from fastapi.responses import RedirectResponse
from sqlalchemy import Connection

from hub.access import audit, keys, operators
from hub.access.callers import Caller
from hub.access.roles import ROLES
from hub.console.web import Form, Needs, Page, same_origin
from hub.core.clock import utcnow
from hub.core.errors import DomainError

router = APIRouter()

USERNAME = re.compile(r"[A-Za-z0-9_.@-]{1,64}")  # hub/api/routers/users.py
SLUG = re.compile(r"[A-Za-z0-9_.-]{1,40}")
ADMIN_PAGES = (
    ("Users", "/admin/users", "users.manage"),
    ("API keys", "/admin/keys", "keys.manage"),
    ("Audit log", "/admin/audit", "audit.read"),
)

AnyAdmin = Annotated[Page, Needs("users.manage", "keys.manage", "audit.read")]
UsersPage = Annotated[Page, Needs("users.manage")]
KeysPage = Annotated[Page, Needs("keys.manage")]
AuditPage = Annotated[Page, Needs("audit.read")]


def _tabs(page: Page) -> list[tuple[str, str]]:
    return [(page._(text), path) for text, path, needs in ADMIN_PAGES if page.may(needs)]


@router.get("/admin")
def admin(page: AnyAdmin):
    return RedirectResponse(_tabs(page)[0][1], status_code=303)


# --- users ----------------------------------------------------------------------------------


def _show_users(page: Page, status: int = 200, errors: dict | None = None, values: dict | None = None):
    users = page.db().read(lambda conn: operators.list_operators(conn, page.caller.outlet_filter(conn)))
    return page.render(
        "admin_users.html",
        status,
        title=page._("Users"),
        tabs=_tabs(page),
        users=users,
        roles=list(ROLES),
        errors=errors or {},
        values=values or {},
    )


@router.get("/admin/users")
def users(page: UsersPage, done: str | None = None, name: str | None = None):
    if done in ("added", "changed") and name and USERNAME.fullmatch(name):
        text = "User {name} added." if done == "added" else "User {name} changed."
        page.messages.append(("ok", page._(text, name=name)))
    return _show_users(page)


def _add_user(conn: Connection, caller: Caller, body: dict) -> dict:
    """As POST /api/v1/users: no more rights than the maker's, in the maker's scope."""
    operators.check_may_manage(caller, body["role"], body["site_id"], body["outlet_id"])
    if body["outlet_id"] is not None:
        caller.check_outlet(conn, body["outlet_id"])
    return operators.add_operator(
        conn,
        body["username"],
        body["password"],
        body["role"],
        body["site_id"],
        body["outlet_id"],
        body["locale"],
    )


@router.post("/admin/users", name="add_user", dependencies=[Depends(same_origin)])
def add_user(form: Form, page: UsersPage):
    values = {k: form.get(k, "").strip() for k in ("username", "role", "site_id", "outlet_id", "locale")}
    password = form.get("password", "")
    errors = {}
    if not USERNAME.fullmatch(values["username"]):
        errors["username"] = page._("A user name is 1-64 letters, digits or _ . @ -.")
    if not operators.MIN_PASSWORD <= len(password) <= 200:
        errors["password"] = page._("A password has at least {n} characters.", n=operators.MIN_PASSWORD)
    if values["role"] not in ROLES:
        errors["role"] = page._("Choose a role.")
    for field in ("site_id", "outlet_id"):
        if values[field] and not SLUG.fullmatch(values[field]):
            errors[field] = page._("Not found")
    if errors:
        return _show_users(page, 422, errors, values)
    body = {
        "username": values["username"],
        "password": password,
        "role": values["role"],
        "site_id": values["site_id"] or None,
        "outlet_id": values["outlet_id"] or None,
        "locale": values["locale"] if values["locale"] in ("en", "de") else page.locale,
    }
    try:
        page.db(body).write(_add_user, page.caller, body)
    except DomainError as exc:
        page.messages.append(("error", page._("Not done: {reason}", reason=page.error(exc))))
        return _show_users(page, exc.status, values=values)
    return RedirectResponse(f"/admin/users?done=added&name={body['username']}", status_code=303)


@router.post("/admin/users/{username}", name="change_user", dependencies=[Depends(same_origin)])
def change_user(form: Form, page: UsersPage, username: str):
    """Disable or enable a user, or give a new password (which also unlocks)."""
    action = form.get("action", "")
    change: dict = {}
    if action in ("disable", "enable"):
        change["disabled"] = action == "disable"
    elif action == "password":
        password = form.get("password", "")
        if not operators.MIN_PASSWORD <= len(password) <= 200:
            page.messages.append(
                ("error", page._("A password has at least {n} characters.", n=operators.MIN_PASSWORD))
            )
            return _show_users(page, 422)
        change["password"] = password
    else:
        return _show_users(page, 422)
    try:
        page.db(change).write(
            lambda conn: operators.change_operator(conn, page.caller, username, now=utcnow(), **change),
            before=lambda conn: operators.operator_view(conn, username),
        )
    except DomainError as exc:
        page.messages.append(("error", page._("Not done: {reason}", reason=page.error(exc))))
        return _show_users(page, exc.status)
    return RedirectResponse(f"/admin/users?done=changed&name={username}", status_code=303)


# --- API keys -------------------------------------------------------------------------------


def _show_keys(
    page: Page, status: int = 200, errors: dict | None = None, values: dict | None = None, created=None
):
    return page.render(
        "admin_keys.html",
        status,
        title=page._("API keys"),
        tabs=_tabs(page),
        keys=page.db().read(keys.list_keys),
        roles=list(ROLES),
        errors=errors or {},
        values=values or {"rate_per_minute": "600"},
        created=created,
    )


@router.get("/admin/keys")
def api_keys(page: KeysPage, revoked: str | None = None):
    if revoked and SLUG.fullmatch(revoked):
        page.messages.append(("ok", page._("Key {id} revoked.", id=revoked)))
    return _show_keys(page)


@router.post("/admin/keys", name="create_key", dependencies=[Depends(same_origin)])
def create_key(form: Form, page: KeysPage):
    """A new key, shown on this answer only (not stored but as a hash; no redirect that
    would lose it)."""
    values = {k: form.get(k, "").strip() for k in ("name", "role", "site_id", "outlet_id", "rate_per_minute")}
    errors = {}
    if not 1 <= len(values["name"]) <= 100:
        errors["name"] = page._("Name what uses the key (1-100 characters).")
    if values["role"] not in ROLES:
        errors["role"] = page._("Choose a role.")
    rate = int(values["rate_per_minute"]) if values["rate_per_minute"].isdigit() else 0
    if not 1 <= rate <= 100_000:
        errors["rate_per_minute"] = page._("A rate is a whole number from 1 to 100000.")
    for field in ("site_id", "outlet_id"):
        if values[field] and not SLUG.fullmatch(values[field]):
            errors[field] = page._("Not found")
    if errors:
        return _show_keys(page, 422, errors, values)
    body = {
        "name": values["name"],
        "role": values["role"],
        "site_id": values["site_id"] or None,
        "outlet_id": values["outlet_id"] or None,
        "rate_per_minute": rate,
    }
    try:
        made = page.db(body).write(lambda conn: keys.create_key(conn, page.caller, now=utcnow(), **body))
    except DomainError as exc:
        page.messages.append(("error", page._("Not done: {reason}", reason=page.error(exc))))
        return _show_keys(page, exc.status, values=values)
    return _show_keys(page, 201, created=made)


@router.post("/admin/keys/{key_id}/revoke", name="revoke_key", dependencies=[Depends(same_origin)])
def revoke_key(page: KeysPage, key_id: str):
    try:
        page.db({}).write(keys.revoke_key, key_id, utcnow(), before=lambda conn: keys.key_view(conn, key_id))
    except DomainError as exc:
        page.messages.append(("error", page._("Not done: {reason}", reason=page.error(exc))))
        return _show_keys(page, exc.status)
    return RedirectResponse(f"/admin/keys?revoked={key_id}", status_code=303)


# --- the audit log --------------------------------------------------------------------------


@router.get("/admin/audit")
def audit_log(page: AuditPage, actor: str = "", action: str = ""):
    actor, action = actor.strip()[:100], action.strip()[:100]
    entries = page.db().read(
        lambda conn: audit.query(
            conn,
            outlets=page.caller.outlet_filter(conn),
            actor=actor or None,
            action=action or None,
            limit=200,
        )
    )
    query = urlencode({k: v for k, v in (("actor", actor), ("action", action)) if v})
    return page.render(
        "admin_audit.html",
        title=page._("Audit log"),
        tabs=_tabs(page),
        entries=entries,
        actor=actor,
        action=action,
        csv_query=query,
    )
