"""`casegraph serve`: the analyst workspace (HTTP API + web UI).

Over an embedded store it listens on loopback and prints a one-time sign-in link (as Jupyter does): the first
browser to open it, stating a purpose, is signed in; nothing else gets past 401. Over a server store
(CASEGRAPH_STORE=postgresql://...) users sign in at /login with their name and password, PostgreSQL decides
what each request sees, and `--workers N` runs N processes (sessions live in the database). `--get /api/...` answers one request in-process (FastAPI's TestClient), signed
in the same way (a server store: as CASEGRAPH_USER with CASEGRAPH_PASSWORD), and prints the JSON: a smoke test that needs no port (like Datasette's --get).
"""

from __future__ import annotations

import ipaddress
import json
import sys
from pathlib import Path
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
    workers: int = 1,
    open_browser: bool = False,
    watch: Path | None = None,
    interval: float = 5.0,
) -> None:
    """Start the workspace (or answer one --get request); on an embedded store a busy port gives way to a free
    one, said so."""
    from casegraph.api import create_app
    from casegraph.store import is_server

    settings = ctx_of(ctx).settings()
    if get:
        raise typer.Exit(_answer_one(settings, get))
    shown = f"[{host}]" if ":" in host else host
    if is_server(str(settings.store.path)):
        if watch is not None:
            fail("--watch is for an embedded store; beside a server store, run `casegraph watch FOLDER`")
        _serve_server(ctx, settings, host, port, workers)
        return
    if workers != 1:
        fail("--workers is for a server store: an embedded store is served by one process")
    if not _is_loopback(host):
        fail(
            f"an embedded store is served on loopback only, not {host}: it belongs to the account that runs "
            "casegraph. Several people share a server store (CASEGRAPH_STORE=postgresql://...)"
        )
    if watch is not None and not watch.is_dir():
        fail(f"{watch}: not a folder")
    try:
        app = create_app(settings, watch=_watch_options(watch, interval))
    except CasegraphError as exc:
        fail(str(exc))
    free = port_to_use(host, port)
    if free != port:
        console.print(f"port {port} is in use: serving on {free} instead")
    console.print(f"casegraph workspace on http://{shown}:{free}/ over {settings.store.path}")
    if watch is not None:
        console.print(f"watching {watch} every {interval:g} s: new files are imported, then `update` runs")
    link = f"http://{shown}:{free}/login?token={app.state.signin.link_token}"
    console.print(f"sign in (this link works once): {link}", highlight=False, soft_wrap=True)
    if open_browser:
        _open_when_listening(link)
    _run(app, host, free)


def _watch_options(folder: Path | None, interval: float) -> Any:
    if folder is None:
        return None
    from casegraph.api.watching import WatchOptions

    return WatchOptions(folder=folder, interval=interval)


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


def _serve_server(ctx: typer.Context, settings: Settings, host: str, port: int, workers: int) -> None:
    """A server store's workspace: `workers` processes, each acting for its requests' users (see
    api/serverworkspace.py); they read the settings from the environment, as this process was given them."""
    import os

    from casegraph.store.server import authenticator_password, shown

    try:
        authenticator_password()
    except CasegraphError as exc:
        fail(str(exc))
    os.environ["CASEGRAPH_STORE"] = str(settings.store.path)
    config = ctx_of(ctx).config
    if config:
        os.environ["CASEGRAPH_CONFIG"] = str(config)
    where = f"[{host}]" if ":" in host else host
    console.print(
        f"casegraph workspace on http://{where}:{port}/ over {shown(str(settings.store.path))}, "
        f"{workers} worker process{'es' if workers > 1 else ''}"
    )
    console.print(f"sign in with your user name and password: http://{where}:{port}/login", highlight=False)
    if not _is_loopback(host):
        console.print("[yellow]note:[/] put a TLS proxy in front: passwords and cookies travel in the clear")
    import uvicorn

    uvicorn.run(
        "casegraph.api.app:app_from_environment",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="warning",
        access_log=False,
    )


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
            client.post("/login", data=_sign_in_form(app, purpose), follow_redirects=False)
            response = client.get(path)
    except CasegraphError as exc:
        fail(str(exc))
    try:
        body = json.dumps(response.json(), indent=2, ensure_ascii=False)
    except ValueError:
        body = response.text
    sys.stdout.write(body + "\n")
    return 0 if response.status_code < 400 else 1


def _sign_in_form(app: Any, purpose: str) -> dict[str, str]:
    """What the sign-in page is given: the link's token, or a server user's name and password."""
    import os

    if app.state.signin.by_password:
        user, password = os.environ.get("CASEGRAPH_USER", ""), os.environ.get("CASEGRAPH_PASSWORD", "")
        if not user or not password:
            fail("--get on a server store signs in as CASEGRAPH_USER with CASEGRAPH_PASSWORD")
        return {"user": user, "password": password, "purpose": purpose}
    return {"token": app.state.signin.link_token, "purpose": purpose}


def serve_command(
    ctx: typer.Context,
    host: str = typer.Option(
        "127.0.0.1", "--host", help="Address to listen on (loopback only for an embedded store)."
    ),
    port: int = typer.Option(8765, "--port", min=1, max=65535, help="Port to listen on."),
    get: str = typer.Option(
        None, "--get", help="Answer one GET request in-process and print it (e.g. /api/status)."
    ),
    workers: int = typer.Option(
        1, "--workers", min=1, max=64, help="Worker processes (a server store only)."
    ),
    watch: Path = typer.Option(
        None,
        "--watch",
        help="A drop folder to import from while serving, then update (files named <table>...; as "
        "`casegraph watch`); open inboxes show the new alerts without a reload.",
    ),
    interval: float = typer.Option(5.0, "--interval", help="Seconds between looks at the --watch folder."),
) -> None:
    """Open the analyst workspace: HTTP API and web UI over the store (embedded: a one-time sign-in link on
    loopback; server: users sign in with their passwords)."""
    serve(ctx, host=host, port=port, get=get, workers=workers, watch=watch, interval=interval)


def register(app: typer.Typer, eval_app: typer.Typer) -> None:
    app.command("serve")(serve_command)
