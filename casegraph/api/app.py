"""create_app(settings) -> the FastAPI app: JSON under /api (OpenAPI at /api/openapi.json), the workspace
pages, static assets. Every data request comes from a signed-in browser session and is in the audit log."""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from casegraph.api import pages
from casegraph.api.auth import ServerSignIn, SignIn
from casegraph.api.jsonresp import JSON
from casegraph.api.pages import STATIC_DIR
from casegraph.api.routes import ROUTERS
from casegraph.api.serverworkspace import ServerWorkspace
from casegraph.api.watching import FolderWatch, WatchOptions
from casegraph.api.workspace import ApiProblem, Workspace
from casegraph.errors import CasegraphError, ClaimRefused, PolicyDenied, StageNotRun
from casegraph.safeguards import os_account
from casegraph.settings import Settings
from casegraph.store import Store, is_server

log = logging.getLogger("casegraph.api")
# A strict policy: scripts and styles from this server only, no inline script, no framing, no plugins.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "connect-src 'self'; worker-src 'self' blob:; font-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=(), payment=()"),
]


class SecurityHeaders:
    """Adds the security headers to every response; API answers are never cached."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        no_store = str(scope.get("path", "")).startswith(("/api", "/login"))

        async def wrapped(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers += SECURITY_HEADERS
                if no_store:
                    headers.append((b"cache-control", b"no-store"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, wrapped)


def _reasons(exc: RequestValidationError) -> list[dict[str, Any]]:
    out = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err.get("loc", ()) if p != "body" or len(err.get("loc", ())) == 1)
        out.append(
            {"parameter": where, "problem": err.get("msg", "invalid"), "given": _given(err.get("input"))}
        )
    return out


def _given(value: Any) -> Any:
    return value if isinstance(value, (str, int, float, bool, type(None))) else str(value)[:200]


def install_errors(app: FastAPI) -> None:
    """Every failure is JSON that says what is wrong; a bad parameter is a 4xx, never a 500."""

    @app.exception_handler(ApiProblem)
    async def _problem(request: Request, exc: ApiProblem) -> JSON:
        return JSON({"detail": exc.message, **exc.extra}, status_code=exc.status)

    @app.exception_handler(PolicyDenied)
    async def _denied(request: Request, exc: PolicyDenied) -> JSON:
        return JSON({"detail": str(exc), "recorded": "this refusal is in the audit log"}, status_code=403)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSON:
        reasons = _reasons(exc)
        text = "; ".join(f"{r['parameter']}: {r['problem']}" for r in reasons)
        return JSON({"detail": f"invalid parameters: {text}", "reasons": reasons}, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSON:
        return JSON({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(CasegraphError)
    async def _casegraph(request: Request, exc: CasegraphError) -> JSON:
        status = 409 if isinstance(exc, StageNotRun) else 422 if isinstance(exc, ClaimRefused) else 500
        if status == 500:
            return _internal(exc)
        return JSON({"detail": str(exc)}, status_code=status)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSON:
        return _internal(exc)


def _internal(exc: BaseException) -> JSON:
    ref = uuid.uuid4().hex[:10]
    log.error("internal error %s", ref, exc_info=exc)
    return JSON(
        {"detail": f"internal error (reference {ref}); the server log has the details"}, status_code=500
    )


def create_app(settings: Settings, store: Store | None = None, watch: WatchOptions | None = None) -> FastAPI:
    """The workspace app over the store named by settings (or an open embedded `store`, which the caller
    keeps): an embedded store's (api/workspace.py) or a server store's (api/serverworkspace.py). `watch`: a
    drop folder the workspace imports and updates from (api/watching.py)."""

    server = is_server(str(settings.store.path)) and store is None

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.ws = ServerWorkspace(settings) if server else Workspace(settings, store)
        app.state.watch = FolderWatch(app.state.ws, watch) if watch else None
        if app.state.watch:
            app.state.watch.start()
        try:
            yield
        finally:
            if app.state.watch:
                app.state.watch.stop()
            app.state.ws.close()

    app = FastAPI(
        title="casegraph",
        summary="Crime series, identities, networks and group growth: JSON behind every workspace view.",
        version="0.1.0",
        lifespan=lifespan,
        openapi_url="/api/openapi.json",
        docs_url=None,
        redoc_url=None,
        default_response_class=JSON,
    )
    app.state.settings = settings
    # the workspace of an embedded store acts for its owner; a server store's users sign in with passwords
    app.state.signin = ServerSignIn(app) if server else SignIn(os_account())
    install_errors(app)
    for router in ROUTERS:
        app.include_router(router, prefix="/api")
    app.include_router(pages.router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.add_middleware(SecurityHeaders)
    return app


def app_from_environment() -> FastAPI:
    """The app a worker process of `casegraph serve --workers N` builds (settings from the environment)."""
    from casegraph.settings import load_settings

    return create_app(load_settings())
