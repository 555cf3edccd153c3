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


def serve(
    ctx: typer.Context,
    host: str = "127.0.0.1",
    port: int = 8765,
    get: str | None = None,
    open_browser: bool = False,
) -> None:
    """Start the workspace (or answer one --get request); a busy port gives way to a free one, said so."""
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
    free = port_to_use(host, port)
    if free != port:
        console.print(f"port {port} is in use: serving on {free} instead")
    shown = f"[{host}]" if ":" in host else host
    console.print(f"casegraph workspace on http://{shown}:{free}/ over {settings.store.path}")
    link = f"http://{shown}:{free}/login?token={app.state.signin.link_token}"
    console.print(f"sign in (this link works once): {link}", highlight=False, soft_wrap=True)
    if open_browser:
        _open_when_listening(link)
    _run(app, host, free)


def port_to_use(host: str, port: int) -> int:
    """`port` if it is free on `host`, else one the system picks."""
    import socket

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family) as probe:
        try:
            probe.bind((host, port))
        except OSError:
            probe.bind((host, 0))
        return int(probe.getsockname()[1])


def _open_when_listening(link: str) -> None:
    """Open the sign-in link in the user's browser once uvicorn listens, where there is a desktop: without one,
    Python's webbrowser would start a text browser (lynx, w3m) in this very terminal."""
    import os
    import sys
    import threading
    import webbrowser

    if sys.platform in ("darwin", "win32") or os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"):
        threading.Timer(1.0, lambda: webbrowser.open(link)).start()


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
