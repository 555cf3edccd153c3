"""The workspace pages: sign-in (token + stated purpose -> session cookie), sign-out, and the app shell."""

from __future__ import annotations

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
    Signer,
    caller_of,
    check_csrf,
    clean_purpose,
    origin_of,
    same_origin_or_refuse,
    session_cookie,
    session_of,
)
from casegraph.api.jsonresp import JSON
from casegraph.api.workspace import ApiProblem, Caller, Workspace
from casegraph.errors import PolicyDenied

WEB_DIR = Path(__file__).resolve().parents[1] / "web"
STATIC_DIR = WEB_DIR / "static"
VENDOR_BUNDLE = STATIC_DIR / "vendor" / "vendor.js"
templates = Environment(
    loader=FileSystemLoader(WEB_DIR / "templates"), autoescape=select_autoescape(default=True)
)
router = APIRouter(include_in_schema=False)
MAX_FORM = 8192


def render(name: str, status: int = 200, **values: Any) -> HTMLResponse:
    return HTMLResponse(templates.get_template(name).render(**values), status_code=status)


@router.get("/")
async def index(request: Request) -> Response:
    if session_of(request) is None:
        return RedirectResponse("/login", status_code=303)
    return render("index.html", vendor_ready=VENDOR_BUNDLE.exists())


@router.get("/login")
async def login_form(request: Request, token: str = "") -> Response:
    return render("login.html", token=token[:2000], error=None)


async def _form(request: Request) -> dict[str, str]:
    body = await request.body()
    if len(body) > MAX_FORM:
        raise ApiProblem(413, "sign-in form too large")
    return {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace")).items()}


@router.post("/login")
async def login(request: Request) -> Response:
    same_origin_or_refuse(request)
    form = await _form(request)
    signer: Signer = request.app.state.signer
    payload = signer.verify(form.get("token", "").strip(), "token")
    purpose = clean_purpose(form.get("purpose"))
    if payload is None or not purpose:
        why = (
            "state the purpose of this session" if payload else "the sign-in token is invalid or has expired"
        )
        return render("login.html", 401, token=form.get("token", ""), error=why)
    ws: Workspace = request.app.state.ws
    caller = Caller(str(payload["sub"]), purpose, origin_of(request))
    try:  # opening the guarded session checks the user against the users table and logs the login
        await ws.call(caller, lambda g: g.user.user_id)
    except PolicyDenied as exc:
        return render("login.html", 403, token="", error=str(exc))
    return _signed_in(signer, caller.user_id, purpose, RedirectResponse("/", status_code=303))


def _signed_in(signer: Signer, user_id: str, purpose: str, response: Response) -> Response:
    value, _csrf = session_cookie(signer, user_id, purpose)
    response.set_cookie(
        SESSION_COOKIE, value, max_age=SESSION_HOURS * 3600, httponly=True, samesite="strict", path="/"
    )
    return response


@router.post("/logout")
async def logout(request: Request) -> Response:
    session = session_of(request)
    if session is not None:
        check_csrf(request, session)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


class PurposeChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    purpose: str = Field(..., min_length=3, max_length=300)


@router.post("/api/session/purpose")
async def change_purpose(request: Request, body: PurposeChange) -> Response:
    """State a new purpose for this browser session (a new session cookie; later reads are logged with it)."""
    caller = caller_of(request, need_purpose=False)
    session = session_of(request)
    if session is None:
        raise ApiProblem(
            400, "only a browser session has a purpose to change; scripts send X-Casegraph-Purpose"
        )
    purpose = clean_purpose(body.purpose)
    ws: Workspace = request.app.state.ws
    await ws.call(Caller(caller.user_id, purpose, caller.origin), lambda g: g.user.user_id)
    value, csrf = session_cookie(request.app.state.signer, caller.user_id, purpose)
    response = JSON({"purpose": purpose, "csrf": csrf})
    response.set_cookie(
        SESSION_COOKIE, value, max_age=SESSION_HOURS * 3600, httponly=True, samesite="strict", path="/"
    )
    return response
