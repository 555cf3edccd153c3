"""The store behind the HTTP API: one open store, reader lanes that read in parallel, one writer lane.

Each lane is a thread with its own connection to the open DuckDB database and its own sessions (see lanes.py).
A read runs in one transaction and is recorded by one audit entry (what was asked, by whom, why), so its
entries reach the shared audit chain in one append; appends from all lanes are group-committed by one writer
(safeguards/groupcommit.py), and a request is answered only once its entries are committed (its lane does not wait for
that commit: it reads the next request meanwhile). Changes run alone on the writer lane, after the reads under
way and before the next ones.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import Future
from datetime import date
from typing import Any, TypeVar

from casegraph.api import cache
from casegraph.api.lanes import Caller, Gate, Job, JobQueue, Lane
from casegraph.errors import EngineError, PolicyDenied
from casegraph.safeguards import Session, check_anchor
from casegraph.safeguards.audit import Anchor
from casegraph.safeguards.claims import drop_claims_snapshots
from casegraph.safeguards.groupcommit import GroupCommitLog
from casegraph.safeguards.session import share_audit_log
from casegraph.settings import Settings
from casegraph.store import Store, open_store
from casegraph.store.duckdb import DuckDBStore, ReaderStore

__all__ = ["HARMLESS", "ApiProblem", "Caller", "Workspace"]
T = TypeVar("T")
READ_LANES = 4  # connections reading in parallel (more than cores: a lane also waits for audit commits)
# DuckDB settings while serving, restored on close. Parallelism comes from the lanes: DuckDB running each small
# statement on one thread spends 20-40 % less CPU per request than with store.threads = 2 (measured at 1M
# incidents). Late materialization (a top-N over the sort keys, then a rowid semi-join that scans the table
# again) made a 50-row newest-first page cost 6-8 ms instead of 3-4 ms at 1M incidents: off.
SERVING_DUCKDB = {"threads": 1, "late_materialization_max_rows": 0}


class ApiProblem(Exception):
    """An answer other than 200 decided by the API itself (404, 403, 409 ...), never a database failure."""

    def __init__(self, status: int, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status, self.message, self.extra = status, message, extra


# Exceptions raised in Python before or instead of a statement: the read's other audit entries stay "ok".
HARMLESS = (PolicyDenied, ApiProblem, LookupError, ValueError)


def warm_up() -> None:
    """Import the stages once, before the first request, so none pays for it (Splink takes seconds)."""
    from casegraph.pipeline import available_stages

    available_stages()


class Workspace:
    """Owns the store and its lanes; `await call(caller, fn)` runs fn(session) as the caller."""

    def __init__(self, settings: Settings, store: Store | None = None) -> None:
        self.settings = settings
        self._owns_store = store is None
        self.store: Store = store if store is not None else open_store(settings)
        check_anchor(self.store, settings)  # a log that fails its anchor stops the workspace before it serves
        parallel = isinstance(self.store, DuckDBStore)
        audit_store: Store = ReaderStore(self.store) if isinstance(self.store, DuckDBStore) else self.store
        self.log = GroupCommitLog(audit_store, Anchor(self.store, settings))
        share_audit_log(self.store, self.log)
        self._gate = Gate()
        self._changes = 0  # changes made through the workspace: each one renews the readers' claims snapshots
        self._writes, self._reads = JobQueue(), JobQueue()
        self._lanes = [
            Lane("casegraph-writer", self.store, settings, self.log, self._writes, self._run_write)
        ]
        for n in range(READ_LANES if parallel else 0):
            reader = ReaderStore(self.store)  # type: ignore[arg-type]
            share_audit_log(reader, self.log)
            self._lanes.append(
                Lane(
                    f"casegraph-reader-{n}",
                    reader,
                    settings,
                    self.log,
                    self._reads,
                    self._run_read,
                    self._snapshot_token,
                )
            )
        self._parallel = parallel
        self._settings_before = self._set_duckdb(SERVING_DUCKDB) if parallel else None
        self._audit_store = audit_store
        self._stopping = False
        warm_up()
        for lane in self._lanes:
            lane.thread.start()

    # -- submitting work ------------------------------------------------------------------------------
    def submit(self, caller: Caller, fn: Callable[[Session], T], *, alone: bool = False) -> Future[T]:
        """Queue fn to run with the caller's session: reads on a reader lane, changes on the writer."""
        if self._stopping:
            raise EngineError("the workspace is shutting down")
        job = Job(caller, fn, alone)
        (self._reads if self._parallel and not alone else self._writes).put(job)
        return job.future

    async def call(self, caller: Caller, fn: Callable[[Session], T], *, alone: bool = False) -> T:
        return await asyncio.wrap_future(self.submit(caller, fn, alone=alone))

    async def raw(self, fn: Callable[[Store], T]) -> T:
        """Run fn on the store itself, alone (no session, nothing recorded)."""
        return await asyncio.wrap_future(
            self.submit(Caller("", "", ""), lambda _g: fn(self.store), alone=True)
        )

    # -- running jobs (on a lane's thread) --------------------------------------------------------------
    def _run_read(self, lane: Lane, job: Job) -> None:
        """One transaction: a consistent snapshot, recorded by one audit entry appended with the read's other
        entries at the end. The lane goes on to the next read at once; the answer is released when those
        entries are committed."""
        with self._gate.shared():
            try:
                g = lane.session(job.caller)
            except Exception as exc:
                job.future.set_exception(exc)
                return
            result: Any = None
            error: BaseException | None = None
            with self.log.deferred() as tickets:
                try:
                    with g.transaction():
                        try:
                            result = job.fn(g)
                        except HARMLESS as exc:  # raised in Python: the entries already made stay as they are
                            error = exc
                        if job.caller.what:  # a job with no request behind it (a sign-in) logs itself
                            g.log("read", job.caller.what, outcome=outcome_of(error))
                except Exception as exc:  # a failed statement: rolled back, its entries say so
                    error = exc
        self.log.when_committed(tickets, lambda failed: _settle(job, result, error or failed))

    def _run_write(self, lane: Lane, job: Job) -> None:
        """A change alone, recorded by one audit entry (with any the change makes itself)."""
        with self._gate.exclusive():
            result: Any = None
            error: BaseException | None = None
            g = lane.session(job.caller) if job.caller.user_id else None
            try:
                result = job.fn(g)
            except Exception as exc:
                error = exc
            finally:
                cache.clear()
                self._changes += 1
                if self._parallel:  # no read is under way (the gate): the readers make new ones
                    drop_claims_snapshots(self.store)
            if g is not None and job.caller.what:
                g.log("change", job.caller.what, outcome=outcome_of(error))
        _settle(job, result, error)

    def _snapshot_token(self) -> str:
        """What the readers' claims snapshots hold for: no change since, and today (claims expire by date).
        Nothing else writes while the workspace holds the store."""
        return f"{self._changes}:{date.today()}"

    def close(self) -> None:
        self._stopping = True
        self._reads.close()
        self._writes.close()
        for lane in self._lanes:
            lane.thread.join(timeout=30)
        for lane in self._lanes:
            lane.close()
        self.log.close()  # commits the entries of the last reads, which releases their answers
        if self._audit_store is not self.store:
            self._audit_store.close()
        if self._settings_before is not None:
            self._set_duckdb(self._settings_before)
        if self._owns_store:
            self.store.close()

    def _set_duckdb(self, values: dict[str, int]) -> dict[str, int]:
        """Set DuckDB options for the open database (every connection to it); returns the values they had."""
        before = {}
        for name, value in values.items():
            before[name] = int(self.store.scalar("SELECT current_setting(?)", [name]))
            self.store.execute(f"SET GLOBAL {name} = {int(value)}")  # names from SERVING_DUCKDB only
        return before


def outcome_of(error: BaseException | None) -> str:
    if error is None:
        return "ok"
    status = getattr(error, "status", None)
    return f"{status}: {error}"[:300] if status else f"failed: {type(error).__name__}: {error}"[:300]


def _settle(job: Job, result: Any, error: BaseException | None) -> None:
    if error is None:
        job.future.set_result(result)
    else:
        job.future.set_exception(error)
