"""`casegraph serve`: the analyst workspace (HTTP API + web UI) on 127.0.0.1 over the embedded store.

`--get /api/...` answers one request in-process (FastAPI's TestClient), as the configured user with the
configured purpose, and prints the JSON: a smoke test that needs no port (like Datasette's --get).
"""

from __future__ import annotations

import ipaddress
import json
import sys

import typer

from casegraph.cli.common import console, ctx_of, fail, out
from casegraph.errors import CasegraphError

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
    token_for: str | None = None,
) -> None:
    """Start the workspace (or answer one --get request, or print a sign-in token)."""
    from casegraph.api import Signer, create_app, load_secret, user_token

    settings = ctx_of(ctx).settings()
    signer = Signer(load_secret(settings))
    if token_for:
        out.print(user_token(signer, token_for))
        return
    token = user_token(signer, settings.user.id)
    if get:
        raise typer.Exit(_answer_one(settings, token, get))
    if not _is_loopback(host):
        console.print(
            f"[bold yellow]warning:[/] serving on {host}: the session cookie is not marked Secure; "
            "put the workspace behind TLS before anyone else can reach it"
        )
    try:
        app = create_app(settings)
    except CasegraphError as exc:
        fail(str(exc))
    shown = f"[{host}]" if ":" in host else host
    console.print(
        f"casegraph workspace on http://{shown}:{port}/ for {settings.user.id} "
        f"({settings.user.role}, {settings.user.agency}) over {settings.store.path}"
    )
    console.print(f"sign in: http://{shown}:{port}/login?token={token}", highlight=False, soft_wrap=True)
    _run(app, host, port)


def _run(app: object, host: str, port: int) -> None:
    import uvicorn

    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False)  # type: ignore[arg-type]


def _answer_one(settings: object, token: str, path: str) -> int:
    import warnings

    from casegraph.api import create_app

    with warnings.catch_warnings():  # Starlette's TestClient says it prefers httpx2; httpx works
        warnings.simplefilter("ignore")
        from fastapi.testclient import TestClient

    headers = {"Authorization": f"Bearer {token}", "X-Casegraph-Purpose": settings.user.purpose}  # type: ignore[attr-defined]
    try:
        with TestClient(create_app(settings), raise_server_exceptions=False) as client:  # type: ignore[arg-type]
            response = client.get(path, headers=headers)
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
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on (loopback by default)."),
    port: int = typer.Option(8765, "--port", min=1, max=65535, help="Port to listen on."),
    get: str = typer.Option(
        None, "--get", help="Answer one GET request in-process and print it (e.g. /api/status)."
    ),
    token_for: str = typer.Option(None, "--token-for", help="Print a sign-in token for this user and exit."),
) -> None:
    """Open the analyst workspace: HTTP API and web UI over the store, every request through the safeguards."""
    serve(ctx, host=host, port=port, get=get, token_for=token_for)


def register(app: typer.Typer, eval_app: typer.Typer) -> None:
    app.command("serve")(serve_command)
