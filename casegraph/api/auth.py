"""Signing in to the workspace: a one-time sign-in link (embedded store), a password (server store).

An embedded store belongs to the account that runs `casegraph serve`. The server listens on loopback and
prints a sign-in link at start (as Jupyter does); the first browser that opens it, stating a purpose, gets a
session cookie (HttpOnly, SameSite=Strict) and the link is spent. Nothing else gets past 401: there are no
bearer tokens and no users to name. A session lives in the server's memory: it expires after SESSION_HOURS,
signing out ends it at once, and a restart ends them all. Each state-changing request carries the session's
CSRF token.

On a server store (ServerSignIn) users sign in with their name and password, which PostgreSQL checks; the
sessions live in the database (see api/serverworkspace.py), so every worker process knows them.
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from dataclasses import dataclass
from typing import Any

from fastapi import Request

from casegraph.api.workspace import ApiProblem, Caller

SESSION_COOKIE = "cg_session"
PURPOSE_HEADER = "x-casegraph-purpose"
CSRF_HEADER = "x-csrf-token"
SESSION_HOURS = 8
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
MAX_PURPOSE = 300


@dataclass
class BrowserSession:
    user_id: str
    purpose: str
    csrf: str
    expires: float = 0.0  # embedded sessions (a server keeps its own expiry)


class SignIn:
    """The one-time link of this server run and the sessions it opened (thread-safe)."""

    by_password = False

    def __init__(self, user_id: str) -> None:
        self.user_id = user_id  # who every session acts for: the account that owns the store
        self._link: str | None = secrets.token_urlsafe(32)
        self._sessions: dict[str, BrowserSession] = {}
        self._lock = threading.Lock()

    @property
    def link_token(self) -> str | None:
        return self._link

    def spend(self, token: str) -> bool:
        """True once, for the link's own token; the link is gone after that."""
        with self._lock:
            if self._link is None or not hmac.compare_digest(token.encode(), self._link.encode()):
                return False
            self._link = None
            return True

    def open(self, purpose: str) -> tuple[str, BrowserSession]:
        """(cookie value, session) of a new browser session."""
        sid = secrets.token_urlsafe(32)
        session = BrowserSession(
            self.user_id, purpose, secrets.token_urlsafe(24), time.time() + SESSION_HOURS * 3600
        )
        with self._lock:
            self._drop_expired()
            self._sessions[sid] = session
        return sid, session

    async def find(self, sid: str | None) -> BrowserSession | None:
        if not sid:
            return None
        with self._lock:
            session = self._sessions.get(sid)
            if session is not None and session.expires < time.time():
                del self._sessions[sid]
                return None
            return session

    async def with_purpose(self, sid: str, purpose: str) -> BrowserSession | None:
        with self._lock:
            session = self._sessions.get(sid)
            if session is not None:
                session.purpose = purpose
            return session

    async def close(self, sid: str | None) -> None:
        with self._lock:
            self._sessions.pop(sid or "", None)

    def _drop_expired(self) -> None:
        now = time.time()
        for sid in [s for s, v in self._sessions.items() if v.expires < now]:
            del self._sessions[sid]


class ServerSignIn:
    """Sessions of a server store's workspace, kept by the database (ServerWorkspace does the asking)."""

    by_password = True
    link_token = None

    def __init__(self, app: Any) -> None:
        self.app = app

    async def find(self, sid: str | None) -> BrowserSession | None:
        if not sid or len(sid) > 200:
            return None
        found = await self.app.state.ws.find_session(sid)
        return None if found is None else BrowserSession(found.user_id, found.purpose, found.csrf)

    async def open_with_password(
        self, user: str, password: str, purpose: str, origin: str
    ) -> tuple[str, BrowserSession] | None:
        opened = await self.app.state.ws.sign_in(
            user, password, purpose=purpose, origin=origin, hours=SESSION_HOURS
        )
        if opened is None:
            return None
        sid, found = opened
        return sid, BrowserSession(found.user_id, found.purpose, found.csrf)

    async def with_purpose(self, sid: str, purpose: str) -> BrowserSession | None:
        session = await self.find(sid)
        if session is None:
            return None
        caller = Caller(session.user_id, purpose, "")
        await self.app.state.ws.call(caller, lambda g: g.inner.web_session_purpose(sid, purpose))
        self.app.state.ws.forget_session(sid)
        session.purpose = purpose
        return session

    async def close(self, sid: str | None) -> None:
        session = await self.find(sid)
        if session is not None and sid:
            caller = Caller(session.user_id, session.purpose, "")
            await self.app.state.ws.call(caller, lambda g: g.inner.close_web_session(sid))
            self.app.state.ws.forget_session(sid)


def clean_purpose(text: str | None) -> str:
    """A stated purpose: printable, trimmed, at most 300 characters; empty when none was given."""
    value = " ".join((text or "").split())
    if len(value) > MAX_PURPOSE:
        raise ApiProblem(422, f"the purpose is {len(value)} characters; at most {MAX_PURPOSE} are kept")
    return value


def signin_of(request: Request) -> SignIn | ServerSignIn:
    signin: SignIn | ServerSignIn = request.app.state.signin
    return signin


async def session_of(request: Request) -> BrowserSession | None:
    return await signin_of(request).find(request.cookies.get(SESSION_COOKIE))


def origin_of(request: Request) -> str:
    host = request.client.host if request.client else "unknown"
    return f"api {host}"


def check_csrf(request: Request, session: BrowserSession) -> None:
    """A change must come from our own page: same origin and the session's CSRF token."""
    if request.method in SAFE_METHODS:
        return
    same_origin_or_refuse(request)
    sent = request.headers.get(CSRF_HEADER, "")
    if not hmac.compare_digest(sent, session.csrf):
        raise ApiProblem(
            403,
            f"missing or wrong CSRF token: changes must come from the workspace page (header {CSRF_HEADER})",
        )


def same_origin_or_refuse(request: Request) -> None:
    origin = request.headers.get("origin")
    if request.headers.get("sec-fetch-site") == "cross-site":
        raise ApiProblem(403, "cross-site request refused")
    if origin and origin != f"{request.url.scheme}://{request.url.netloc}":
        raise ApiProblem(403, f"request from another origin ({origin}) refused")


async def caller_of(request: Request, *, need_purpose: bool = True) -> Caller:
    """The signed-in caller of this request, or ApiProblem(401); a purpose is required for data reads."""
    session = await session_of(request)
    if session is None:
        how = "at /login" if signin_of(request).by_password else "the sign-in link `casegraph serve` printed"
        raise ApiProblem(401, f"sign in first: {how}")
    check_csrf(request, session)
    purpose = clean_purpose(request.headers.get(PURPOSE_HEADER) or session.purpose)
    if need_purpose and not purpose:
        raise ApiProblem(
            400,
            f"state the purpose of this request (header {PURPOSE_HEADER}, or the purpose "
            "given at sign-in): person-level reads are recorded with their purpose",
        )
    cookie = request.cookies.get(SESSION_COOKIE, "")
    return Caller(session.user_id, purpose or "(none stated)", origin_of(request), _what(request), cookie)


def _what(request: Request) -> str:
    """The request as an audit entry names it: method, path and query."""
    query = f"?{request.url.query}" if request.url.query else ""
    return f"{request.method} {request.url.path}{query}"[:300]
