"""Signing in to a local, single-machine workspace: signed tokens, a signed session cookie, CSRF tokens.

Who a user is, their role and agency come from the safeguards' `users` table only; a token names the user
and nothing else. `casegraph serve` prints a sign-in link holding a token for the configured user
(`casegraph serve --token-for USER` prints one for another user). Scripts send the token as
`Authorization: Bearer ...` with the purpose in `X-Casegraph-Purpose`; the browser exchanges it, with a
stated purpose, for a session cookie (HttpOnly, SameSite=Strict) whose CSRF token must accompany every
state-changing request. The signing secret is kept beside the store (`<store>.api-secret`, mode 600) so
tokens survive a restart; anyone who can read it can already read the store file.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import time
from pathlib import Path
from typing import Any

from fastapi import Request

from casegraph.api.workspace import ApiProblem, Caller
from casegraph.settings import Settings

SESSION_COOKIE = "cg_session"
PURPOSE_HEADER = "x-casegraph-purpose"
CSRF_HEADER = "x-csrf-token"
TOKEN_HOURS = 12
SESSION_HOURS = 8
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
MAX_PURPOSE = 300


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Signer:
    """HMAC-SHA256 signed JSON payloads with a kind and an expiry."""

    def __init__(self, secret: bytes) -> None:
        self._secret = secret

    def sign(self, kind: str, hours: float, **claims: Any) -> str:
        payload = {**claims, "kind": kind, "exp": int(time.time() + hours * 3600)}
        body = _b64(json.dumps(payload, separators=(",", ":"), sort_keys=True).encode())
        return f"{body}.{self._mac(body)}"

    def _mac(self, body: str) -> str:
        return _b64(hmac.new(self._secret, body.encode(), hashlib.sha256).digest())

    def verify(self, token: str | None, kind: str) -> dict[str, Any] | None:
        """The payload of a valid, unexpired token of this kind, else None."""
        if not token or token.count(".") != 1:
            return None
        body, mac = token.split(".")
        if not hmac.compare_digest(mac, self._mac(body)):
            return None
        try:
            payload = json.loads(_unb64(body))
        except ValueError:
            return None
        if (
            not isinstance(payload, dict)
            or payload.get("kind") != kind
            or payload.get("exp", 0) < time.time()
        ):
            return None
        return payload


def secret_path(settings: Settings) -> Path | None:
    path = settings.store.path
    return None if path == ":memory:" else Path(f"{path}.api-secret")


def load_secret(settings: Settings) -> bytes:
    """The signing secret: $CASEGRAPH_API_SECRET, else the file beside the store (created once, mode 600)."""
    env = os.environ.get("CASEGRAPH_API_SECRET")
    if env:
        return env.encode()
    path = secret_path(settings)
    if path is None:
        return secrets.token_bytes(32)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_hex(32))
    return path.read_text().strip().encode()


def user_token(signer: Signer, user_id: str, hours: float = TOKEN_HOURS) -> str:
    return signer.sign("token", hours, sub=user_id)


def session_cookie(signer: Signer, user_id: str, purpose: str) -> tuple[str, str]:
    """(cookie value, csrf token) of a new browser session."""
    csrf = secrets.token_urlsafe(24)
    return signer.sign("session", SESSION_HOURS, sub=user_id, purpose=purpose, csrf=csrf), csrf


def clean_purpose(text: str | None) -> str:
    """A stated purpose: printable, trimmed, at most 300 characters; empty when none was given."""
    value = " ".join((text or "").split())
    if len(value) > MAX_PURPOSE:
        raise ApiProblem(422, f"the purpose is {len(value)} characters; at most {MAX_PURPOSE} are kept")
    return value


def session_of(request: Request) -> dict[str, Any] | None:
    signer: Signer = request.app.state.signer
    return signer.verify(request.cookies.get(SESSION_COOKIE), "session")


def bearer_of(request: Request) -> dict[str, Any] | None:
    header = request.headers.get("authorization", "")
    if not header.lower().startswith("bearer "):
        return None
    signer: Signer = request.app.state.signer
    payload = signer.verify(header[7:].strip(), "token")
    if payload is None:
        raise ApiProblem(
            401, "the bearer token is invalid or has expired; ask for a new one (casegraph serve)"
        )
    return payload


def origin_of(request: Request) -> str:
    host = request.client.host if request.client else "unknown"
    return f"api {host}"


def check_csrf(request: Request, session: dict[str, Any]) -> None:
    """A cookie-authenticated change must come from our own page: same origin and the session's CSRF token."""
    if request.method in SAFE_METHODS:
        return
    same_origin_or_refuse(request)
    sent = request.headers.get(CSRF_HEADER, "")
    if not hmac.compare_digest(sent, str(session.get("csrf", ""))):
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
    bearer = bearer_of(request)
    if bearer is not None:
        purpose = clean_purpose(request.headers.get(PURPOSE_HEADER))
        user_id = str(bearer["sub"])
    else:
        session = session_of(request)
        if session is None:
            raise ApiProblem(
                401,
                "sign in first: open the link `casegraph serve` printed, or send "
                "Authorization: Bearer <token>",
            )
        check_csrf(request, session)
        purpose = clean_purpose(request.headers.get(PURPOSE_HEADER) or session.get("purpose"))
        user_id = str(session["sub"])
    if need_purpose and not purpose:
        raise ApiProblem(
            400,
            f"state the purpose of this request (header {PURPOSE_HEADER}, or the purpose "
            "given at sign-in): person-level reads are recorded with their purpose",
        )
    return Caller(user_id, purpose or "(none stated)", origin_of(request))
