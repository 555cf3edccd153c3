"""What every CLI verb shares: settings and store from the global options, Rich output, --json output."""

from __future__ import annotations

import importlib
import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NoReturn

import typer
from rich.console import Console

from casegraph.errors import CasegraphError

# Imported by the verb that runs (`casegraph --help` loads none of them): settings, store, safeguards, Rich's
# tables and progress bars.
if TYPE_CHECKING:
    from rich.table import Table

    from casegraph.safeguards import Session
    from casegraph.settings import Settings
    from casegraph.store import Store

console = Console(stderr=True, soft_wrap=True)
out = Console(soft_wrap=True)


@dataclass
class Context:
    store_path: str | None = None
    config: str | None = None
    as_json: bool = False
    scope: str | None = None
    engine: str | None = None

    def settings(self) -> Settings:
        from casegraph.settings import load_settings

        # --engine overrides the file and CASEGRAPH_ENGINE, and is validated with them
        settings = load_settings(self.config, **({"engine": {"name": self.engine}} if self.engine else {}))
        if self.store_path:
            settings.store.path = self.store_path
        return settings


class LazyModule:
    """A module imported on first attribute access: `casegraph --help` and the record verbs need not load
    scikit-learn, Splink or igraph, which the stages' verbs import when they run."""

    def __init__(self, name: str) -> None:
        self._name = name

    def __getattr__(self, attr: str) -> Any:
        return getattr(importlib.import_module(self._name), attr)


def ctx_of(ctx: typer.Context) -> Context:
    obj = ctx.find_root().obj
    return obj if isinstance(obj, Context) else Context()


IN_PROCESS = "in-process"


def in_process(ctx: typer.Context) -> str:
    """The engine of a verb that analyses files in this process without a store: it has no Spark version, so
    with the spark engine it stops rather than run elsewhere."""
    if ctx_of(ctx).settings().engine.name != "duckdb":
        fail(
            "this verb analyses files in this process (no store) and has no spark version: use engine duckdb"
        )
    return IN_PROCESS


@contextmanager
def opened_raw(ctx: typer.Context) -> Iterator[tuple[Store, Settings]]:
    """The store without a session: only for verbs that must work when sessions are refused
    (`audit verify` on a broken log, `encrypt`)."""
    from casegraph.store import open_store

    settings = ctx_of(ctx).settings()
    try:
        store = open_store(settings)
    except CasegraphError as exc:
        fail(str(exc))
    try:
        yield store, settings
    finally:
        store.close()


@contextmanager
def opened(
    ctx: typer.Context,
    purpose: str | None = None,
    *,
    check_log: bool = True,
    settings: Settings | None = None,
) -> Iterator[tuple[Session, Settings]]:
    """Open the store for one verb: an embedded store as its owner (it belongs to the account that runs
    casegraph), a server store as the user who signs in. The verb is recorded in the audit log with its
    outcome. Casegraph errors become a clear message and exit code 2."""
    from casegraph import safeguards
    from casegraph.store import open_store

    settings = settings or ctx_of(ctx).settings()
    ignored_identity_warning()
    try:
        raw = open_store(settings)
    except CasegraphError as exc:
        fail(str(exc))
    try:
        session = safeguards.open_session(raw, settings, purpose=purpose, check_log=check_log)
        scope = ctx_of(ctx).scope
        if scope:
            session.use_scope(scope)
    except CasegraphError as exc:
        raw.close()
        fail(str(exc))
    verb = command_line(ctx)

    def record(outcome: str) -> None:
        try:
            session.log("cli", verb, outcome=outcome)
        except CasegraphError as exc:
            if check_log:  # a verb that cannot be recorded has not happened properly: say so
                fail(f"the audit log refused the record of this verb: {exc}")
            console.print(f"[bold yellow]warning:[/] the audit log refused the record of this verb: {exc}")

    try:
        yield session, settings
    except CasegraphError as exc:
        record(f"failed: {exc}"[:300])
        fail(str(exc))
    except typer.Exit as exc:
        record("ok" if not exc.exit_code else f"exit {exc.exit_code}")
        raise
    else:
        record("ok")
    finally:
        raw.close()


def command_line(ctx: typer.Context) -> str:
    """The verb and the arguments it was given (what an audit reader needs to know what was asked)."""
    given = " ".join(
        f"--{k.replace('_', '-')} {v}" if not isinstance(v, bool) else f"--{k.replace('_', '-')}"
        for k, v in ctx.params.items()
        if v is not None and v is not False and v != "" and v != [] and v != ()
    )
    return f"{ctx.command_path} {given}".strip()[:500]


def ignored_identity_warning() -> None:
    """Identity is not an environment variable: say so once, so nobody believes a role was taken."""
    if os.environ.get("CASEGRAPH_ROLE") or os.environ.get("CASEGRAPH_AGENCY"):
        console.print(
            "[bold yellow]warning:[/] CASEGRAPH_ROLE and CASEGRAPH_AGENCY grant nothing: an embedded store "
            "acts for the account that owns its file; a server store signs users in"
        )


def set_json(ctx: typer.Context, as_json: bool) -> None:
    """A verb's own --json flag, same as the global one."""
    if as_json:
        ctx_of(ctx).as_json = True


def run_and_emit(ctx: typer.Context, stage: Any, render: Any) -> None:
    """Run a stage module's `run(store, settings, progress=...)` where it computes (see pipeline.run_computing)
    and print its summary; a CasegraphError ends the command with its message (see `opened`)."""
    from casegraph.pipeline import run_computing

    with opened(ctx) as (store, settings):
        module = importlib.import_module(stage._name) if isinstance(stage, LazyModule) else stage
        summary = run_computing(store, module, lambda s: module.run(s, settings, progress=RichProgress()))
    emit(ctx, summary, render)


def fail(message: str, code: int = 2) -> NoReturn:
    console.print(f"[bold red]error:[/] {message}", highlight=False)
    raise typer.Exit(code)


def emit(ctx: typer.Context, data: Any, render: Any = None) -> None:
    """Print JSON when --json was given, else call render(data) (or pretty-print it)."""
    if ctx_of(ctx).as_json or render is None:
        sys.stdout.write(json.dumps(data, default=str, indent=None if ctx_of(ctx).as_json else 2) + "\n")
    else:
        render(data)


def table_of(title: str, rows: list[dict[str, Any]], columns: list[str] | None = None) -> Table:
    from rich.table import Table

    columns = columns or (list(rows[0]) if rows else [])
    table = Table(title=title, show_lines=False)
    for c in columns:
        table.add_column(c)
    for row in rows:
        table.add_row(*["" if row.get(c) is None else str(row.get(c)) for c in columns])
    return table


class RichProgress:
    """casegraph.progress.Progress rendered as a Rich progress bar on stderr, when stderr is a terminal (in a log
    file or a pipe, a bar that erases itself would leave only blank lines)."""

    def __init__(self) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self._shown = console.is_terminal
        self._bar = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        )
        self._task: Any = None

    def start(self, total: int | None, label: str) -> None:
        if not self._shown:
            return
        if self._task is None:
            self._bar.start()
        else:
            self._bar.remove_task(self._task)
        self._task = self._bar.add_task(label, total=total)

    def advance(self, n: int = 1) -> None:
        if self._task is not None:
            self._bar.advance(self._task, n)

    def finish(self) -> None:
        if self._task is not None:
            self._bar.stop()
            self._task = None
