"""Signing in to the workspace of an embedded store: a one-time sign-in link, server-side sessions.

An embedded store belongs to the account that runs `casegraph serve`. The server listens on loopback and
prints a sign-in link at start (as Jupyter does); the first browser that opens it, stating a purpose, gets a
session cookie (HttpOnly, SameSite=Strict) and the link is spent. Nothing else gets past 401: there are no
bearer tokens and no users to name. A session lives in the server's memory: it expires after SESSION_HOURS,
signing out ends it at once, and a restart ends them all. Each state-changing request carries the session's
CSRF token.
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from dataclasses import dataclass

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
    expires: float


class SignIn:
    """The one-time link of this server run and the sessions it opened (thread-safe)."""

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

    def find(self, sid: str | None) -> BrowserSession | None:
        if not sid:
            return None
        with self._lock:
            session = self._sessions.get(sid)
            if session is not None and session.expires < time.time():
                del self._sessions[sid]
                return None
            return session

    def with_purpose(self, sid: str, purpose: str) -> BrowserSession | None:
        with self._lock:
            session = self._sessions.get(sid)
            if session is not None:
                session.purpose = purpose
            return session

    def close(self, sid: str | None) -> None:
        with self._lock:
            self._sessions.pop(sid or "", None)

    def _drop_expired(self) -> None:
        now = time.time()
        for sid in [s for s, v in self._sessions.items() if v.expires < now]:
            del self._sessions[sid]


def clean_purpose(text: str | None) -> str:
    """A stated purpose: printable, trimmed, at most 300 characters; empty when none was given."""
    value = " ".join((text or "").split())
    if len(value) > MAX_PURPOSE:
        raise ApiProblem(422, f"the purpose is {len(value)} characters; at most {MAX_PURPOSE} are kept")
    return value


def signin_of(request: Request) -> SignIn:
    signin: SignIn = request.app.state.signin
    return signin


def session_of(request: Request) -> BrowserSession | None:
    return signin_of(request).find(request.cookies.get(SESSION_COOKIE))


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


def caller_of(request: Request, *, need_purpose: bool = True) -> Caller:
    """The signed-in caller of this request, or ApiProblem(401); a purpose is required for data reads."""
    session = session_of(request)
    if session is None:
        raise ApiProblem(401, "sign in first: open the sign-in link `casegraph serve` printed")
    check_csrf(request, session)
    purpose = clean_purpose(request.headers.get(PURPOSE_HEADER) or session.purpose)
    if need_purpose and not purpose:
        raise ApiProblem(
            400,
            f"state the purpose of this request (header {PURPOSE_HEADER}, or the purpose "
            "given at sign-in): person-level reads are recorded with their purpose",
        )
    return Caller(session.user_id, purpose or "(none stated)", origin_of(request), _what(request))


def _what(request: Request) -> str:
    """The request as an audit entry names it: method, path and query."""
    query = f"?{request.url.query}" if request.url.query else ""
    return f"{request.method} {request.url.path}{query}"[:300]
