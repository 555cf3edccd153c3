"""GuardedStore: the Store protocol by delegation, with roles, agency views and the audit log on every call.

Stages cannot tell it from a plain store. Each statement is scanned (sqlscan): the user's role must allow
what it reads and writes, record tables are read through the session's views (views.py), writes are pointed
at the real tables, an insert into a record table must hold only the user's agency's rows and loses any
purged id, and one audit entry is appended per statement that reads person-level data or writes a table.
"""

from __future__ import annotations

import uuid
import weakref
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import pandas as pd
import pyarrow as pa

from casegraph.errors import EngineError, PolicyDenied
from casegraph.safeguards import views
from casegraph.safeguards.audit import Anchor, AuditLog, Entry
from casegraph.safeguards.policy import (
    User,
    is_person_level,
    masked_fields,
    read_action,
    refusal_reason,
    require,
    table_kind,
    write_action,
)
from casegraph.safeguards.sqlscan import Statement, analyse, rewrite_targets
from casegraph.schema import model
from casegraph.settings import Settings
from casegraph.store import Store, quote
from casegraph.store.base import Frame, Params

T = TypeVar("T")
DETAIL_CHARS, PARAM_CHARS = 500, 300
_ACTIVE: weakref.WeakKeyDictionary[Any, GuardedStore] = weakref.WeakKeyDictionary()
_LOGS: weakref.WeakKeyDictionary[Any, AuditLog] = weakref.WeakKeyDictionary()


@dataclass(frozen=True)
class Plan:
    sql: str
    original: str
    reads: tuple[str, ...]
    writes: tuple[str, ...]
    record_inserts: tuple[str, ...]

    @property
    def audited(self) -> bool:
        return bool(self.writes or any(is_person_level(t) for t in self.reads))


def audit_log_of(store: Store, settings: Settings) -> AuditLog:
    """The one AuditLog per open store (it caches the chain head)."""
    log = _LOGS.get(store)
    if log is None:
        log = _LOGS[store] = AuditLog(store, Anchor(store, settings))
    return log


def share_audit_log(store: Store, log: AuditLog) -> None:
    """Sessions on `store` append to `log`: several connections to one database must share one chain head
    (an API server's reader connections); `log` must then be safe to call from their threads."""
    _LOGS[store] = log


def reload_audit_log(store: Store, settings: Settings) -> AuditLog:
    """Forget the cached chain head (after the table was changed outside this process)."""
    _LOGS[store] = AuditLog(store, Anchor(store, settings))
    return _LOGS[store]


class GuardedStore:
    """A Store acting for one user, with a stated purpose, from one origin."""

    def __init__(
        self,
        inner: Store,
        user: User,
        settings: Settings,
        *,
        purpose: str,
        origin: str,
        owns_inner: bool = False,
    ) -> None:
        self.inner, self.user, self.settings = inner, user, settings
        self.rules = settings.safeguards
        self.purpose, self.origin = purpose, origin
        self.engine, self.path = inner.engine, inner.path
        self.log_ = audit_log_of(inner, settings)
        self._owns_inner = owns_inner
        self._pending: list[Entry] = []
        self._depth = 0
        self._tables = frozenset(model.tables)
        # see views.install: set by a long-lived caller (the workspace), through snapshot_claims
        self.claims_snapshot: str | None = None
        self.visibility = views.install(inner, user, self.rules)
        self._catalogs = frozenset({self.visibility.catalog.lower()})
        _ACTIVE[inner] = self

    # -- session ----------------------------------------------------------------------------------------
    def activate(self) -> None:
        """Several users may share one open store in turn (an API server): re-point the views when needed."""
        if _ACTIVE.get(self.inner) is not self:
            self.refresh_views()

    def refresh_views(self) -> None:
        self.visibility = views.install(
            self.inner, self.user, self.rules, claims_snapshot=self.claims_snapshot
        )
        _ACTIVE[self.inner] = self

    def snapshot_claims(self, token: str) -> None:
        """Read the valid claims once per `token` (which the caller changes whenever the store or the date may
        have changed) instead of checking every claim's rules on each read of membership_claims."""
        if token != self.claims_snapshot:
            self.claims_snapshot = token
            self.refresh_views()

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
            detail=detail,
            outcome=outcome,
            row_count=rows,
        )
        if self._depth:
            self._pending.append(entry)
        else:
            self.log_.append([entry])

    def require(self, action: str, what: str = "") -> None:
        """Check the role; a refusal is logged before it is raised."""
        try:
            require(self.user, action, what)
        except PolicyDenied as exc:
            self.log("denied", what or action, outcome=f"denied: {exc}")
            raise

    def deny(self, reason: str, sql: str) -> None:
        self.log("denied", None, sql[:DETAIL_CHARS], outcome=f"denied: {reason}")
        raise PolicyDenied(f"{self.user.describe()}: {reason}")

    # -- statements -------------------------------------------------------------------------------------
    def _check(self, st: Statement, sql: str) -> None:
        if st.problem:
            self.deny(f"refused statement: {st.problem}", sql)
        if st.kind == "write" and st.target:
            if st.temp and st.target in self._tables:
                self.deny(f"a temporary {st.target} would hide the table of that name", sql)
            action = "scratch" if st.temp else write_action(st.target, st.verb)
            if action is None:
                self.deny(refusal_reason(st.target, st.verb), sql)
            if not self.user.can(str(action)):
                self.require(str(action), st.target)
        for t in st.reads:
            if not self.user.can(read_action(t)):
                self.require(read_action(t), t)

    def plan(self, sql: str) -> Plan:
        statements = analyse(sql, self._tables, self._catalogs)
        for st in statements:
            self._check(st, sql)
        writes = tuple(
            sorted(
                {
                    s.target
                    for s in statements
                    if s.kind == "write" and s.target and not s.temp and table_kind(s.target) != "scratch"
                }
            )
        )
        return Plan(
            sql=rewrite_targets(sql, statements, self.visibility.replacement()),
            original=sql,
            reads=tuple(sorted({t for s in statements for t in s.reads})),
            writes=writes,
            record_inserts=tuple(t for t in writes if table_kind(t) == "record"),
        )

    def _guarded(self, sql: str, params: Params, run: Callable[[str, Params], T], count: bool = True) -> T:
        self.activate()
        plan = self.plan(sql)
        try:
            result = (
                self._with_record_checks(plan, params, run) if plan.record_inserts else run(plan.sql, params)
            )
        except PolicyDenied:
            raise
        except Exception as exc:
            if plan.audited:
                self._log_statement(plan, sql, params, None, f"failed: {type(exc).__name__}")
            raise
        if plan.audited:
            rows = len(result) if count and isinstance(result, (pa.Table, pd.DataFrame, list)) else None
            self._log_statement(plan, sql, params, rows, "ok")
        return result

    def _log_statement(self, plan: Plan, sql: str, params: Params, rows: int | None, outcome: str) -> None:
        detail = sql[:DETAIL_CHARS] + (f" | params {params!r}"[:PARAM_CHARS] if params else "")
        person = [t for t in plan.reads if is_person_level(t)]
        action = "write" if plan.writes else "read"
        self.log(action, ",".join(plan.writes or tuple(person)), detail, outcome=outcome, rows=rows)

    def _with_record_checks(self, plan: Plan, params: Params, run: Callable[[str, Params], T]) -> T:
        """An insert into a record table: only the user's agency's rows (admins excepted); purged ids dropped."""
        with self.transaction():  # the guard's: audit entries wait for the commit or rollback
            before = {t: self._foreign_rows(t) for t in plan.record_inserts}
            result = run(plan.sql, params)
            for table in plan.record_inserts:
                if self._foreign_rows(table) > before[table]:
                    self.deny(
                        f"may add rows of agency {self.user.agency} only; this insert into {table} holds "
                        "rows of another agency",
                        plan.original,
                    )
                self._drop_tombstoned(table)
        return result

    def _foreign_rows(self, table: str) -> int:
        if self.user.role == "admin":
            return 0
        sql = f"SELECT count(*) FROM {self.visibility.qualified(table)} WHERE agency IS NULL OR agency <> ?"
        return int(self.inner.scalar(sql, [self.user.agency]))

    def _drop_tombstoned(self, table: str) -> None:
        if not self.inner.scalar("SELECT count(*) FROM tombstones WHERE table_name = ?", [table]):
            return
        key = quote(model.table(table).key)
        where = (
            f"EXISTS (SELECT 1 FROM tombstones z WHERE z.table_name = ? AND z.agency = t.agency "
            f"AND z.record_key = t.{key})"
        )
        target = f"{self.visibility.qualified(table)} t"
        n = int(self.inner.scalar(f"SELECT count(*) FROM {target} WHERE {where}", [table]))
        if n:
            self.inner.execute(f"DELETE FROM {target} WHERE {where}", [table])
            self.log("purge-enforced", table, f"{n} purged ids inserted again were removed", rows=n)

    # -- Store protocol ---------------------------------------------------------------------------------
    def execute(self, sql: str, params: Params = None) -> None:
        self._guarded(sql, params, self.inner.execute, count=False)

    def arrow(self, sql: str, params: Params = None) -> pa.Table:
        return self._guarded(sql, params, self.inner.arrow)

    def df(self, sql: str, params: Params = None) -> pd.DataFrame:
        return self._guarded(sql, params, self.inner.df)

    def rows(self, sql: str, params: Params = None) -> list[tuple[Any, ...]]:
        return self._guarded(sql, params, self.inner.rows)

    def scalar(self, sql: str, params: Params = None) -> Any:
        rows = self.rows(sql, params)
        return rows[0][0] if rows else None

    def records(self, sql: str, params: Params = None) -> list[dict[str, Any]]:
        """Rows as dicts, the same checks and audit entry as arrow(); taken straight from the store when it
        offers `records` (for the few rows of an API page, ~1 ms cheaper per statement than Arrow)."""
        direct = getattr(self.inner, "records", None)
        if direct is None:
            return self._guarded(sql, params, self.inner.arrow).to_pylist()  # type: ignore[no-any-return]
        return self._guarded(sql, params, direct)  # type: ignore[no-any-return]

    def batches(self, sql: str, params: Params = None, size: int = 100_000) -> Iterator[pa.RecordBatch]:
        return self._guarded(sql, params, lambda s, p: self.inner.batches(s, p, size), count=False)

    def write(self, table: str, data: Frame, mode: str = "append") -> int:
        """Insert rows by column name through the same checks as SQL; mode 'replace' empties the table first."""
        if mode not in {"append", "replace"}:
            raise EngineError(f"write mode must be append or replace, not {mode!r}")
        cols = list(data.column_names if isinstance(data, pa.Table) else data.columns)
        with self.transaction():
            if mode == "replace":
                self.execute(f"DELETE FROM {quote(table)}")
            if not cols or len(data) == 0:
                return 0
            view = f"_tmp_write_{uuid.uuid4().hex[:8]}"
            collist = ", ".join(quote(c) for c in cols)
            with self.inner.registered(view, data):
                self.execute(f"INSERT INTO {quote(table)} ({collist}) SELECT {collist} FROM {quote(view)}")
        return len(data)

    def registered(self, name: str, data: Frame) -> AbstractContextManager[str]:
        if name.lower() in self._tables:
            self.deny(f"{name} is a table of the schema; register the data under another name", name)
        return self.inner.registered(name, data)

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """All or nothing; audit entries made inside are written after it ends, committed or not."""
        self.activate()
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
        hidden = set(masked_fields(model.tables[table])) if table in model.tables else set()
        return [c for c in self.inner.columns(table) if c not in hidden]

    def count(self, table: str) -> int:
        return int(self.scalar(f"SELECT count(*) FROM {quote(table)}"))

    def new_run(self, stage: str, settings: dict[str, Any], user_id: str | None = None) -> str:
        self.require("run", stage)
        run_id = self.inner.new_run(stage, settings, self.user.user_id)
        self.log("run", stage, f"run {run_id} started")
        return run_id

    def finish_run(self, run_id: str, status: str, summary: dict[str, Any]) -> None:
        self.require("run", run_id)
        self.inner.finish_run(run_id, status, summary)
        self.log("run", run_id, f"finished: {status}")

    def splink_db_api(self) -> Any:
        """Splink gets the same connection, so it too reads through this session's views."""
        self.activate()
        self.require("run", "splink")
        self.log(
            "read", "person_records", "Splink connection handed to a stage (reads through the session views)"
        )
        return self.inner.splink_db_api()

    def close(self) -> None:
        if _ACTIVE.get(self.inner) is self:
            views.uninstall(self.inner, self.visibility)
            del _ACTIVE[self.inner]
        if self._owns_inner:
            self.inner.close()

    def __enter__(self) -> GuardedStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
