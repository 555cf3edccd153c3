"""The store behind the HTTP API: one open store, one worker thread, one guarded session per (user, purpose).

DuckDB allows one connection per file per process, and the safeguards' session views live on that
connection, so all store work runs on one thread, in order. Requests that are waiting together for the
same session run in one guarded transaction: their audit entries are appended with a single commit (group
commit), which is what keeps many concurrent readers fast when every person-level read is audited.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, TypeVar

from casegraph.api import cache
from casegraph.errors import EngineError, PolicyDenied
from casegraph.safeguards import GuardedStore, User, bootstrap, guard
from casegraph.settings import Settings
from casegraph.store import Store, open_store

T = TypeVar("T")
MAX_BATCH = 64
MAX_SESSIONS = 32
USER_CHECK_SECONDS = 5.0


class ApiProblem(Exception):
    """An answer other than 200 decided by the API itself (404, 403, 409 ...), never a database failure."""

    def __init__(self, status: int, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status, self.message, self.extra = status, message, extra


@dataclass(frozen=True)
class Caller:
    """Who asks, why, and from where: the key of a guarded session."""

    user_id: str
    purpose: str
    origin: str


@dataclass
class Job:
    caller: Caller
    fn: Callable[[GuardedStore], Any]
    alone: bool
    future: Future[Any] = field(default_factory=Future)


# Exceptions raised in Python before or instead of a statement: they leave the transaction usable.
HARMLESS = (PolicyDenied, ApiProblem, LookupError, ValueError)


def warm_up() -> None:
    """Import the stages once, on the store thread, so no request pays for it (Splink takes seconds)."""
    from casegraph.pipeline import available_stages

    available_stages()


class Workspace:
    """Owns the store and the thread that uses it; `await call(caller, fn)` runs fn(guarded_store)."""

    def __init__(self, settings: Settings, store: Store | None = None) -> None:
        self.settings = settings
        self._owns_store = store is None
        self.store: Store = store if store is not None else open_store(settings)
        bootstrap(self.store, settings)  # a new store gets its configured user and an admin (audited)
        self._sessions: OrderedDict[Caller, tuple[GuardedStore, float, tuple[Any, ...]]] = OrderedDict()
        self._jobs: deque[Job] = deque()
        self._cv = threading.Condition()
        self._stopping = False
        self._thread = threading.Thread(target=self._loop, name="casegraph-store", daemon=True)
        self._thread.start()

    # -- submitting work ------------------------------------------------------------------------------
    def submit(self, caller: Caller, fn: Callable[[GuardedStore], T], *, alone: bool = False) -> Future[T]:
        """Queue fn to run on the store thread with the caller's guarded session; writes run alone."""
        job = Job(caller, fn, alone)
        with self._cv:
            if self._stopping:
                raise EngineError("the workspace is shutting down")
            self._jobs.append(job)
            self._cv.notify()
        return job.future

    async def call(self, caller: Caller, fn: Callable[[GuardedStore], T], *, alone: bool = False) -> T:
        return await asyncio.wrap_future(self.submit(caller, fn, alone=alone))

    async def raw(self, fn: Callable[[Store], T]) -> T:
        """Run fn on the unguarded store: sign-in checks only (does this user exist, is it active)."""
        return await asyncio.wrap_future(
            self.submit(Caller("", "", ""), lambda _g: fn(self.store), alone=True)
        )

    # -- the store thread -----------------------------------------------------------------------------
    def _take(self) -> list[Job]:
        with self._cv:
            while not self._jobs and not self._stopping:
                self._cv.wait()
            if not self._jobs:
                return []
            first = self._jobs.popleft()
            batch = [first]
            while (not first.alone and self._jobs and len(batch) < MAX_BATCH and not self._jobs[0].alone
                   and self._jobs[0].caller == first.caller):  # fmt: skip
                batch.append(self._jobs.popleft())
            return batch

    def _loop(self) -> None:
        warm_up()
        while True:
            batch = self._take()
            if not batch:
                return
            if not batch[0].caller.user_id:
                self._run_raw(batch[0])
                cache.clear()
            else:
                self._run_batch(batch)

    def _run_raw(self, job: Job, g: GuardedStore | None = None) -> None:
        try:
            job.future.set_result(job.fn(g))  # type: ignore[arg-type]  # raw jobs ignore the session
        except Exception as exc:
            job.future.set_exception(exc)

    def _run_batch(self, batch: list[Job]) -> None:
        try:
            g = self._session(batch[0].caller)
        except Exception as exc:
            for job in batch:
                job.future.set_exception(exc)
            return
        if batch[0].alone:  # a change, or a retry: its own statements, each audited as the guard does alone
            self._run_raw(batch[0], g)
            cache.clear()
            return
        done: list[tuple[Job, Any, BaseException | None]] = []
        rest: list[Job] = []
        try:
            with g.transaction():
                for i, job in enumerate(batch):
                    try:
                        done.append((job, job.fn(g), None))
                    except HARMLESS as exc:
                        done.append((job, None, exc))
                    except Exception as exc:
                        done.append((job, None, exc))
                        rest = batch[i + 1 :]
                        raise
        except Exception:  # the transaction was rolled back; the others get another try on their own
            self._requeue(rest)
        for job, result, exc in done:
            if exc is None:
                job.future.set_result(result)
            else:
                job.future.set_exception(exc)

    def _requeue(self, jobs: list[Job]) -> None:
        for job in jobs:
            job.alone = True
        with self._cv:
            self._jobs.extendleft(reversed(jobs))

    def _session(self, caller: Caller) -> GuardedStore:
        """The caller's guarded session, made once (one login entry) and dropped if the user changes."""
        cached = self._sessions.get(caller)
        now = time.monotonic()
        if cached is not None:
            g, checked, stamp = cached
            if now - checked < USER_CHECK_SECONDS or self._user_stamp(caller.user_id) == stamp:
                self._sessions[caller] = (g, now if now - checked >= USER_CHECK_SECONDS else checked, stamp)
                self._sessions.move_to_end(caller)
                return g
            self._drop(caller)
        stamp = self._user_stamp(caller.user_id)
        user = User(caller.user_id, str(stamp[1]), str(stamp[2])) if stamp else caller.user_id
        g = guard(self.store, user, settings=self.settings, purpose=caller.purpose, origin=caller.origin)
        self._sessions[caller] = (g, now, stamp)
        while len(self._sessions) > MAX_SESSIONS:
            self._drop(next(iter(self._sessions)))
        return g

    def _user_stamp(self, user_id: str) -> tuple[Any, ...]:
        rows = self.store.rows(
            "SELECT coalesce(active, true), agency, role FROM users WHERE user_id = ?", [user_id]
        )
        return tuple(rows[0]) if rows else ()

    def _drop(self, caller: Caller) -> None:
        g, _, _ = self._sessions.pop(caller)
        g.close()

    def close(self) -> None:
        with self._cv:
            self._stopping = True
            self._cv.notify_all()
        self._thread.join(timeout=30)
        for caller in list(self._sessions):
            self._drop(caller)
        if self._owns_store:
            self.store.close()
