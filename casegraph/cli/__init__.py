"""The casegraph command line: thin verbs over the stages (parse, open the store, call run(), render).

Every verb module imports the stages, pandas, DuckDB and the rest when a verb runs, not when it is loaded:
`casegraph --help` loads none of them (tests/contracts/test_cli_surface.py checks it).
"""

from __future__ import annotations

import importlib
import os

import typer

from casegraph.cli.common import Context, out
from casegraph.cli.groups import command_group
from casegraph.cli.records import register as register_records

app = command_group(
    name="casegraph",
    help="Crime series, identities, networks and the growth of groups, from an agency's own records.",
    no_args_is_help=True,
)
eval_app = command_group(
    help="Evaluate a stage against ground truth (synthetic city or real data).", no_args_is_help=True
)
app.add_typer(eval_app, name="eval")

# Each stage's verbs live in casegraph/cli/<stage>.py with register(app, eval_app); listed here in order.
STAGE_COMMANDS = (
    "demo",
    "demo_server",
    "resolve",
    "linkage",
    "network",
    "trends",
    "update",
    "evaluation",
    "safeguards",
    "report",
    "serve",
    "server",
)


def _print_version(asked: bool) -> None:
    if asked:
        from casegraph import __version__

        out.print(f"casegraph {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    ctx: typer.Context,
    store: str = typer.Option(
        None,
        "--store",
        envvar="CASEGRAPH_STORE",
        help="Store file (default ./casegraph.duckdb), or a server: postgresql://HOST:PORT/DB.",
    ),
    config: str = typer.Option(None, "--config", help="Settings file (default ./casegraph.toml if present)."),
    engine: str = typer.Option(
        None,
        "--engine",
        help="Engine every stage runs on: duckdb (default) or spark (settings: [engine] name; env "
        "CASEGRAPH_ENGINE).",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print machine-readable JSON."),
    scope: str = typer.Option(
        None,
        "--scope",
        envvar="CASEGRAPH_SCOPE",
        help="Server stores: the task force a stage run works for (default: your agency).",
    ),
    version: bool = typer.Option(
        False, "--version", callback=_print_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    ctx.obj = Context(store_path=store, config=config, as_json=as_json, scope=scope, engine=engine)


register_records(app)
for _name in STAGE_COMMANDS:
    importlib.import_module(f"casegraph.cli.{_name}").register(app, eval_app)


def main() -> None:
    # Everything casegraph writes (store, WAL, spill files, keys, anchors, exports) is the account's alone.
    os.umask(0o077)
    app()
