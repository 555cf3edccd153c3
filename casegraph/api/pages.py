"""The workspace pages: sign-in (the one-time link + a stated purpose -> session cookie), sign-out, the shell."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape
from pydantic import BaseModel, ConfigDict, Field

from casegraph.api.auth import (
    SESSION_COOKIE,
    SESSION_HOURS,
    ServerSignIn,
    caller_of,
    check_csrf,
    clean_purpose,
    origin_of,
    same_origin_or_refuse,
    session_of,
    signin_of,
)
from casegraph.api.jsonresp import JSON
from casegraph.api.routes.common import ID
from casegraph.api.serverworkspace import ServerWorkspace
from casegraph.api.workspace import ApiProblem, Caller, Workspace
from casegraph.safeguards import Session

WEB_DIR = Path(__file__).resolve().parents[1] / "web"
STATIC_DIR = WEB_DIR / "static"
VENDOR_BUNDLE = STATIC_DIR / "vendor" / "vendor.js"
templates = Environment(
    loader=FileSystemLoader(WEB_DIR / "templates"), autoescape=select_autoescape(default=True)
)
router = APIRouter(include_in_schema=False)
MAX_FORM = 8192
FAILED_SIGNIN_DELAY = 1.0  # seconds: guessing is slow as well as hopeless (a link holds 256 bits)


def render(name: str, status: int = 200, **values: Any) -> HTMLResponse:
    return HTMLResponse(templates.get_template(name).render(**values), status_code=status)


@router.get("/")
async def index(request: Request) -> Response:
    if await session_of(request) is None:
        return RedirectResponse("/login", status_code=303)
    return render("index.html", vendor_ready=VENDOR_BUNDLE.exists())


@router.get("/login")
async def login_form(request: Request, token: str = "") -> Response:
    return _login_page(request, 200, token=token[:2000])


def _login_page(request: Request, status: int, token: str = "", error: str | None = None) -> HTMLResponse:
    """The sign-in form: the one-time link's token (embedded store), or user name and password (server)."""
    return render("login.html", status, token=token, error=error, by_password=signin_of(request).by_password)


async def _form(request: Request) -> dict[str, str]:
    body = await request.body()
    if len(body) > MAX_FORM:
        raise ApiProblem(413, "sign-in form too large")
    return {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace")).items()}


@router.post("/login")
async def login(request: Request) -> Response:
    same_origin_or_refuse(request)
    form = await _form(request)
    purpose = clean_purpose(form.get("purpose"))
    signin = signin_of(request)
    if isinstance(signin, ServerSignIn):
        return await _password_login(request, signin, form, purpose)
    token = form.get("token", "").strip()
    if not purpose:
        return _login_page(request, 401, token=token, error="state the purpose of this session")
    if not signin.spend(token):
        ws: Workspace = request.app.state.ws
        refused = Caller(signin.user_id, purpose, origin_of(request))
        await ws.call(refused, lambda g: g.log("login", None, outcome="denied: wrong or spent sign-in link"))
        await asyncio.sleep(FAILED_SIGNIN_DELAY)
        why = "this sign-in link is not valid (each link works once): restart `casegraph serve` for a new one"
        return _login_page(request, 401, error=why)
    sid, session = signin.open(purpose)
    ws = request.app.state.ws
    await ws.call(Caller(session.user_id, purpose, origin_of(request)), lambda g: g.log("login"))
    return _signed_in(sid)


async def _password_login(
    request: Request, signin: ServerSignIn, form: dict[str, str], purpose: str
) -> Response:
    """A server store's user: PostgreSQL checks the password; a refusal is recorded and slowed by the server."""
    if not purpose:
        return _login_page(request, 401, error="state the purpose of this session")
    opened = await signin.open_with_password(
        form.get("user", "").strip(), form.get("password", ""), purpose, origin_of(request)
    )
    if opened is None:
        return _login_page(request, 401, error="wrong user name or password (the attempt is recorded)")
    return _signed_in(opened[0])


def _signed_in(sid: str) -> Response:
    response = RedirectResponse("/", status_code=303)
    response.set_cookie(
        SESSION_COOKIE, sid, max_age=SESSION_HOURS * 3600, httponly=True, samesite="strict", path="/"
    )
    return response


@router.post("/logout")
async def logout(request: Request) -> Response:
    session = await session_of(request)
    if session is not None:
        check_csrf(request, session)
        await signin_of(request).close(request.cookies.get(SESSION_COOKIE))
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


class PurposeChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    purpose: str = Field(..., min_length=3, max_length=300)


@router.post("/api/session/purpose")
async def change_purpose(request: Request, body: PurposeChange) -> Response:
    """State a new purpose for this browser session (later reads are logged with it)."""
    caller = await caller_of(request, need_purpose=False)
    purpose = clean_purpose(body.purpose)
    session = await signin_of(request).with_purpose(request.cookies.get(SESSION_COOKIE, ""), purpose)
    if session is None:
        raise ApiProblem(401, "sign in first")
    ws: Workspace = request.app.state.ws
    changed = Caller(caller.user_id, purpose, caller.origin)
    await ws.call(changed, lambda g: g.log("purpose", None, purpose))
    return JSON({"purpose": purpose, "csrf": session.csrf})


class ScopeChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    scope: str = Field(..., pattern=ID, max_length=128)


@router.post("/api/session/scope")
async def change_scope(request: Request, body: ScopeChange) -> Response:
    """Work in a task force of the user's (or their agency again): later requests read its derived rows (a
    server store; PostgreSQL checks that the user belongs to it). On the record."""
    caller = await caller_of(request, need_purpose=False)
    if not signin_of(request).by_password:
        raise ApiProblem(422, "an embedded store has one scope: task forces are for server stores")
    cookie = request.cookies.get(SESSION_COOKIE, "")
    ws: ServerWorkspace = request.app.state.ws

    def choose(g: Session) -> None:
        g.inner.web_session_scope(cookie, body.scope)  # type: ignore[attr-defined]
        g.log("scope", body.scope)

    try:
        await ws.call(caller, choose)
    finally:
        ws.forget_session(cookie)
    return JSON({"scope": body.scope})
