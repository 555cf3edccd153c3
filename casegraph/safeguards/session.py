"""A session: the store, acting for one actor with a stated purpose, from one origin.

Nothing here decides which rows anyone may see. Embedded, the actor is the operating-system account that owns
the store file (the CLI, the workspace it serves, a Python script): the file's owner can read every byte of it
anyway, so casegraph pretends no roles or agencies inside it. On a server store, PostgreSQL decides: the
session's connection is signed in as the user, and row-level security applies to every statement.

What a session adds is the record: who did what, when, why, from where. Entry points log each operation
(a CLI verb, an API request, a stage run, an export); the session appends the entries to the hash-chained
audit log, after the transaction they belong to ends, committed or not.
"""

from __future__ import annotations

import getpass
import os
import socket
import weakref
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import Any

import pandas as pd
import pyarrow as pa

from casegraph.errors import PolicyDenied
from casegraph.safeguards.audit import Anchor, AuditLog, Entry, ServerAuditLog, anchor_problem
from casegraph.safeguards.claims import claims_snapshot_sql, valid_claims_sql
from casegraph.safeguards.policy import OWNER, ROLE_ACTIONS, require
from casegraph.settings import Settings
from casegraph.store import Store, quote
from casegraph.store.base import Frame, Params

_LOGS: weakref.WeakKeyDictionary[Any, AuditLog] = weakref.WeakKeyDictionary()
DETAIL_CHARS = 500


@dataclass(frozen=True)
class Actor:
    """Who acts: a user of an agency with a role (server), or the store file's owner (embedded, agency None)."""

    user_id: str
    agency: str | None
    role: str

    def can(self, action: str) -> bool:
        return action in ROLE_ACTIONS.get(self.role, frozenset())

    def describe(self) -> str:
        return f"{self.user_id} ({self.role}{', ' + self.agency if self.agency else ''})"


def os_account() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return str(os.getuid()) if hasattr(os, "getuid") else "unknown"


def cli_origin() -> str:
    return f"cli {os_account()}@{socket.gethostname()} pid {os.getpid()}"


def audit_log_of(store: Store, settings: Settings) -> AuditLog:
    """The one AuditLog per open store (it caches the chain head); a server store's is the server's."""
    found = _LOGS.get(store)
    if found is not None:
        return found
    log: AuditLog = (
        ServerAuditLog(store) if hasattr(store, "audit_append") else AuditLog(store, Anchor(store, settings))
    )
    _LOGS[store] = log
    return log


def share_audit_log(store: Store, log: AuditLog) -> None:
    """Sessions on `store` append to `log`: several connections to one database share one chain head (the
    workspace's reader connections); `log` must then be safe to call from their threads."""
    _LOGS[store] = log


def reload_audit_log(store: Store, settings: Settings) -> AuditLog:
    """Forget the cached chain head (after the table was changed outside this process) and append to the log
    as it is now: only for the owner accepting a log that failed its anchor."""
    _LOGS[store] = AuditLog(store, Anchor(store, settings), accepting=True)
    return _LOGS[store]


class Session:
    """The Store protocol by delegation (stages cannot tell), plus `log` and `require` for entry points."""

    def __init__(
        self,
        inner: Store,
        actor: Actor,
        settings: Settings,
        *,
        purpose: str,
        origin: str,
        log: AuditLog | None = None,
    ) -> None:
        self.inner, self.user, self.settings = inner, actor, settings
        self.rules = settings.safeguards
        self.purpose, self.origin = purpose, origin
        self.engine, self.path = inner.engine, inner.path
        self.log_ = log or audit_log_of(inner, settings)
        self._pending: list[Entry] = []
        self._depth = 0
        self._claims: str | None = None  # see use_claims_snapshot

    # -- the record ---------------------------------------------------------------------------------------
    def log(
        self,
        action: str,
        target: str | None = None,
        detail: str | None = None,
        *,
        outcome: str = "ok",
        rows: int | None = None,
    ) -> None:
        """Append one audit entry (held until the end of an open transaction, then written either way)."""
        entry = Entry(
            user_id=self.user.user_id,
            agency=self.user.agency,
            role=self.user.role,
            action=action,
            target=target,
            purpose=self.purpose,
            origin=self.origin,
            detail=None if detail is None else detail[:DETAIL_CHARS],
            outcome=outcome,
            row_count=rows,
        )
        if self._depth:
            self._pending.append(entry)
        else:
            self.log_.append([entry])

    def require(self, action: str, what: str = "") -> None:
        """Check the role (a server's users; an owner may do everything); a refusal is logged, then raised."""
        try:
            require(self.user, action, what)
        except PolicyDenied as exc:
            self.log("denied", what or action, outcome=f"denied: {exc}")
            raise

    def own(self, table: str) -> str:
        """The rows of `table` this actor answers for: an owner's whole table, a server user's agency's rows."""
        if self.user.agency is None:
            return quote(table)
        agency = self.user.agency.replace("'", "''")
        return f"(SELECT * FROM {quote(table)} WHERE agency = '{agency}')"

    def valid_claims(self) -> str:
        """The membership claims that pass their rules (criteria, evidence, review date, approval): only these
        place a person in a group, in every read and result."""
        return f"({self._claims or valid_claims_sql('membership_claims', self.rules)})"

    def use_claims_snapshot(self, token: str) -> None:
        """Read which claims pass from a snapshot kept per `token` (a long-lived caller's: the workspace)."""
        self._claims = claims_snapshot_sql(self.inner, self.rules, token)

    def use_scope(self, scope: str) -> None:
        """Work for a task force (server stores): runs replace its results, which only its members see."""
        if not hasattr(self.inner, "scope"):
            raise PolicyDenied("an embedded store has one scope: --scope is for server stores")
        allowed = self.inner.scalar("SELECT casegraph.scope_agencies(?)", [scope])
        if allowed is None:
            raise PolicyDenied(f"{self.user.describe()} is not in the scope {scope}")
        self.inner.scope = scope
        self.log("scope", scope)

    @contextmanager
    def computing(
        self, reads: tuple[str, ...], writes: tuple[str, ...], *, all_records: bool = False
    ) -> Iterator[Session]:
        """Where a stage computes: this session on an embedded store; on a server store, a session on an
        in-memory DuckDB holding what the run's scope may read, whose results replace the scope's rows on the
        server when the block ends without an error (see store.server). Either way it is on the record."""
        opener = getattr(self.inner, "computing", None)
        if opener is None:
            yield self
            return
        with opener(reads, writes, all_records=all_records) as local:
            yield Session(
                local, self.user, self.settings, purpose=self.purpose, origin=self.origin, log=self.log_
            )

    # -- Store protocol --------------------------------------------------------------------------------
    def execute(self, sql: str, params: Params = None) -> None:
        self.inner.execute(sql, params)

    def arrow(self, sql: str, params: Params = None) -> pa.Table:
        return self.inner.arrow(sql, params)

    def df(self, sql: str, params: Params = None) -> pd.DataFrame:
        return self.inner.df(sql, params)

    def rows(self, sql: str, params: Params = None) -> list[tuple[Any, ...]]:
        return self.inner.rows(sql, params)

    def scalar(self, sql: str, params: Params = None) -> Any:
        return self.inner.scalar(sql, params)

    def records(self, sql: str, params: Params = None) -> list[dict[str, Any]]:
        """Rows as dicts, straight from the store when it offers `records` (cheaper than Arrow for a page)."""
        direct = getattr(self.inner, "records", None)
        if direct is None:
            return self.inner.arrow(sql, params).to_pylist()
        return direct(sql, params)

    def batches(self, sql: str, params: Params = None, size: int = 100_000) -> Iterator[pa.RecordBatch]:
        return self.inner.batches(sql, params, size)

    def write(self, table: str, data: Frame, mode: str = "append") -> int:
        return self.inner.write(table, data, mode)

    def registered(self, name: str, data: Frame) -> AbstractContextManager[str]:
        return self.inner.registered(name, data)

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """All or nothing; audit entries made inside are written after it ends, committed or not."""
        self._depth += 1
        failed = False
        try:
            with self.inner.transaction():
                yield
        except BaseException:
            failed = True
            raise
        finally:
            self._depth -= 1
            if not self._depth:
                self._flush(failed)

    def _flush(self, failed: bool) -> None:
        pending, self._pending = self._pending, []
        if failed:
            for e in pending:
                e.outcome = "rolled back" if e.outcome == "ok" else e.outcome
        self.log_.append(pending)

    def table_names(self) -> list[str]:
        return self.inner.table_names()

    def columns(self, table: str) -> list[str]:
        return self.inner.columns(table)

    def count(self, table: str) -> int:
        return self.inner.count(table)

    # A run is a transaction of the store (see DuckDBStore.new_run): its audit entries are held like those of
    # any transaction and written when it ends, so the chain never holds an entry the run's rollback undid.
    def new_run(self, stage: str, settings: dict[str, Any], user_id: str | None = None) -> str:
        self.require("run", stage)
        run_id = self.inner.new_run(stage, settings, self.user.user_id)
        self._depth += 1
        self.log("run", stage, f"run {run_id} started")
        return run_id

    def finish_run(self, run_id: str, status: str, summary: dict[str, Any]) -> None:
        try:
            self.inner.finish_run(run_id, status, summary)
        finally:
            self.log("run", run_id, f"finished: {status}", outcome="ok" if status == "ok" else status)
            self._depth -= 1
            if not self._depth:
                self._flush(failed=False)

    def splink_db_api(self) -> Any:
        return self.inner.splink_db_api()

    def reclaim_space(self) -> str:
        return self.inner.reclaim_space()

    def close(self) -> None:
        """Nothing to undo: a session holds no views or state in the store (its caller closes the store)."""

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def check_anchor(store: Store, settings: Settings) -> None:
    """Refuse to work on a store whose audit log does not match its anchor (truncated, replaced)."""
    problem = anchor_problem(store, Anchor(store, settings))
    if problem:
        raise PolicyDenied(
            f"the audit log does not match its anchor: {problem}. Nothing runs until the owner has looked: "
            "`casegraph audit verify` shows where it breaks; `casegraph audit verify --accept` records the "
            "problem in the log itself and moves the anchor"
        )


def stated_purpose(purpose: str | None, settings: Settings) -> str:
    """The purpose a session records with every entry: the one given, else the settings', else "analysis"."""
    return (purpose or settings.user.purpose or "").strip() or "analysis"


def owner_session(
    store: Store,
    settings: Settings,
    *,
    purpose: str | None = None,
    origin: str | None = None,
    check_log: bool = True,
) -> Session:
    """The session of the account that owns an embedded store: everything in the file is its own. A log that
    fails its anchor stops it (`check_log=False` only for the verbs that look at such a log)."""
    if check_log:
        check_anchor(store, settings)
    actor = Actor(os_account(), None, OWNER)
    return Session(
        store, actor, settings, purpose=stated_purpose(purpose, settings), origin=origin or cli_origin()
    )


def signed_in_session(
    store: Store, settings: Settings, *, purpose: str | None = None, origin: str | None = None
) -> Session:
    """The session of the user a server store signed in (PostgreSQL decides what it may read and change)."""
    who = Actor(store.user_id, store.agency, store.role)  # type: ignore[attr-defined]
    return Session(
        store, who, settings, purpose=stated_purpose(purpose, settings), origin=origin or cli_origin()
    )


def open_session(
    store: Store,
    settings: Settings,
    *,
    purpose: str | None = None,
    origin: str | None = None,
    check_log: bool = True,
) -> Session:
    """The session an entry point works in: a server's signed-in user, or an embedded store's owner."""
    if hasattr(store, "audit_append"):
        return signed_in_session(store, settings, purpose=purpose, origin=origin)
    return owner_session(store, settings, purpose=purpose, origin=origin, check_log=check_log)


def accept_audit_log(session: Session) -> str | None:
    """The owner accepts a log that fails its anchor, after looking: the problem is written into the log itself
    (so it is never lost) and the anchor moves to the new end. Returns the problem accepted, or None."""
    session.require("audit", "accept the audit log")
    store, settings = session.inner, session.settings
    problem = anchor_problem(store, Anchor(store, settings))
    if problem is None:
        return None
    session.log_ = reload_audit_log(store, settings)
    session.log("audit-reanchored", None, f"accepted after review: {problem}")
    return problem
