"""`casegraph serve`: the analyst workspace (HTTP API + web UI) on loopback over the embedded store.

It prints a one-time sign-in link (as Jupyter does): the first browser to open it, stating a purpose, is signed
in; nothing else gets past 401. `--get /api/...` answers one request in-process (FastAPI's TestClient), signed
in the same way, and prints the JSON: a smoke test that needs no port (like Datasette's --get).
"""

from __future__ import annotations

import ipaddress
import json
import sys
from typing import TYPE_CHECKING, Any

import typer

from casegraph.cli.common import console, ctx_of, fail
from casegraph.errors import CasegraphError

if TYPE_CHECKING:
    from casegraph.settings import Settings

LOOPBACK = ("127.0.0.1", "::1", "localhost")


def _is_loopback(host: str) -> bool:
    if host in LOOPBACK:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def serve(ctx: typer.Context, host: str = "127.0.0.1", port: int = 8765, get: str | None = None) -> None:
    """Start the workspace (or answer one --get request)."""
    from casegraph.api import create_app

    settings = ctx_of(ctx).settings()
    if get:
        raise typer.Exit(_answer_one(settings, get))
    if not _is_loopback(host):
        fail(
            f"an embedded store is served on loopback only, not {host}: it belongs to the account that runs "
            "casegraph. Several people share a server store (CASEGRAPH_STORE=postgresql://...)"
        )
    try:
        app = create_app(settings)
    except CasegraphError as exc:
        fail(str(exc))
    shown = f"[{host}]" if ":" in host else host
    console.print(f"casegraph workspace on http://{shown}:{port}/ over {settings.store.path}")
    link = f"http://{shown}:{port}/login?token={app.state.signin.link_token}"
    console.print(f"sign in (this link works once): {link}", highlight=False, soft_wrap=True)
    _run(app, host, port)


def _run(app: Any, host: str, port: int) -> None:
    import uvicorn

    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False)


def _answer_one(settings: Settings, path: str) -> int:
    import warnings

    from casegraph.api import create_app

    with warnings.catch_warnings():  # Starlette's TestClient says it prefers httpx2; httpx works
        warnings.simplefilter("ignore")
        from fastapi.testclient import TestClient

    purpose = settings.user.purpose
    try:
        app = create_app(settings)
        with TestClient(app, raise_server_exceptions=False) as client:
            token = app.state.signin.link_token
            client.post("/login", data={"token": token, "purpose": purpose}, follow_redirects=False)
            response = client.get(path)
    except CasegraphError as exc:
        fail(str(exc))
    try:
        body = json.dumps(response.json(), indent=2, ensure_ascii=False)
    except ValueError:
        body = response.text
    sys.stdout.write(body + "\n")
    return 0 if response.status_code < 400 else 1


def serve_command(
    ctx: typer.Context,
    host: str = typer.Option("127.0.0.1", "--host", help="Loopback address to listen on."),
    port: int = typer.Option(8765, "--port", min=1, max=65535, help="Port to listen on."),
    get: str = typer.Option(
        None, "--get", help="Answer one GET request in-process and print it (e.g. /api/status)."
    ),
) -> None:
    """Open the analyst workspace: HTTP API and web UI over the store, signed in by a one-time link."""
    serve(ctx, host=host, port=port, get=get)


def register(app: typer.Typer, eval_app: typer.Typer) -> None:
    app.command("serve")(serve_command)
