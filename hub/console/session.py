"""Logging in and out of the console, and the operator's language.

The login checks the password and starts a session as POST /api/v1/auth/login does
(hub.access.operators: argon2, throttling and lock-out), and sets the same cookie: HttpOnly,
Secure, SameSite=strict. The console takes that cookie only."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse
from sqlalchemy import Connection, update

from hub.access import operators
from hub.api.auth import SESSION_COOKIE, client_address, set_session_cookie
from hub.console import i18n
from hub.console.web import MENU, TEMPLATES, Form, Needs, Page, safe_next, same_origin, session_caller
from hub.core.clock import utcnow

router = APIRouter()


def _login_page(request: Request, status: int = 200, **values):
    locale = i18n.pick_locale(request.query_params.get("lang"), request.headers.get("accept-language", ""))
    _ = i18n.translator(locale)
    response = TEMPLATES.TemplateResponse(
        request,
        "login.html",
        {"_": _, "locale": locale, "next": safe_next(request.query_params.get("next")), **values},
        status_code=status,
    )
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Frame-Options"] = "DENY"
    return response


@router.get("/login")
def login_form(request: Request):
    if session_caller(request) is not None:
        return RedirectResponse(safe_next(request.query_params.get("next")), status_code=303)
    return _login_page(request, logged_out=request.query_params.get("bye") == "1")


@router.post("/login", dependencies=[Depends(same_origin)])
def login(request: Request, form: Form):
    locale = i18n.pick_locale(request.query_params.get("lang"), request.headers.get("accept-language", ""))
    _ = i18n.translator(locale)
    username, password = form.get("username", "").strip(), form.get("password", "")
    next_path = safe_next(form.get("next"))
    errors = {}
    if not username or len(username) > 100:
        errors["username"] = _("Enter your user name.")
    if not password or len(password) > 200:
        errors["password"] = _("Enter your password.")
    if errors:
        return _login_page(request, 422, errors=errors, username=username, next=next_path)
    done = request.app.state.db.write(
        operators.log_in, username, password, "cookie", utcnow(), client_address(request)
    )
    if "wait" in done:
        problem = _("Too many wrong passwords: try again in {seconds} s.", seconds=done["wait"])
        return _login_page(request, 429, problem=problem, username=username, next=next_path)
    if done.get("failed"):
        problem = _("Wrong user name or password.")
        return _login_page(request, 401, problem=problem, username=username, next=next_path)
    response = RedirectResponse(next_path, status_code=303)
    set_session_cookie(response, done["token"])
    return response


@router.post("/logout", dependencies=[Depends(same_origin)])
def logout(request: Request):
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        request.app.state.db.write(operators.end_session, token, utcnow())
    response = RedirectResponse("/login?bye=1", status_code=303)
    response.delete_cookie(SESSION_COOKIE, httponly=True, secure=True, samesite="strict")
    return response


def _set_locale(conn: Connection, username: str, locale: str) -> dict:
    conn.execute(
        update(operators.OPERATORS).where(operators.OPERATORS.c.username == username).values(locale=locale)
    )
    return {"username": username, "locale": locale}


@router.post("/settings/language", name="set_language", dependencies=[Depends(same_origin)])
def set_language(form: Form, page: Annotated[Page, Needs()]):
    """The operator's language (operators.locale), for every page from now on."""
    locale = form.get("locale", "")
    if locale in i18n.LOCALES:
        page.db({"locale": locale}).write(_set_locale, page.caller.name, locale)
    return RedirectResponse(safe_next(form.get("next")), status_code=303)


@router.get("/")
def home(page: Annotated[Page, Needs()]):
    """The first page the operator may open."""
    for _text, path, needs in MENU:
        if page.may(*needs):
            return RedirectResponse(path, status_code=303)
    return page.render("home.html")
