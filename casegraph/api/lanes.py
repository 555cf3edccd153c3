"""Lanes: threads that each own one DuckDB connection to the open store (store.duckdb.ReaderStore) and the
sessions made on it.

DuckDB allows one open database per file per process, but any number of connections to it (`cursor()`): each
has its own transactions, so each lane reads in parallel with the others (DuckDB's MVCC keeps every read on a
committed snapshot). Changes run on one writer lane, alone: the `Gate` lets them start only when no read is
under way.
"""

from __future__ import annotations

import threading
from collections import OrderedDict, deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from casegraph.safeguards import OWNER, Actor, Session
from casegraph.safeguards.groupcommit import GroupCommitLog
from casegraph.settings import Settings
from casegraph.store import Store
from casegraph.store.duckdb import ReaderStore

MAX_SESSIONS = 32


@dataclass(frozen=True)
class Caller:
    """Who asks, why, and from where (the key of a lane's session), and what (for the audit entry)."""

    user_id: str
    purpose: str
    origin: str
    what: str = field(default="", compare=False, hash=False)
    cookie: str = field(
        default="", compare=False, hash=False, repr=False
    )  # a server's session, checked each time


@dataclass
class Job:
    caller: Caller
    fn: Callable[[Any], Any]
    alone: bool
    future: Future[Any] = field(default_factory=Future)


class Gate:
    """Reads share the store; a change waits for the reads under way and holds new ones back until it ends."""

    def __init__(self) -> None:
        self._cv = threading.Condition()
        self._readers = 0
        self._writers = 0  # waiting or writing: new reads wait for them

    @contextmanager
    def shared(self) -> Iterator[None]:
        with self._cv:
            while self._writers:
                self._cv.wait()
            self._readers += 1
        try:
            yield
        finally:
            with self._cv:
                self._readers -= 1
                self._cv.notify_all()

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        with self._cv:
            self._writers += 1
            while self._readers:
                self._cv.wait()
        try:
            yield
        finally:
            with self._cv:
                self._writers -= 1
                self._cv.notify_all()


class JobQueue:
    """Jobs waiting for a lane; take() returns None once the queue is closed and empty."""

    def __init__(self) -> None:
        self._jobs: deque[Job] = deque()
        self._cv = threading.Condition()
        self.closed = False

    def put(self, job: Job) -> None:
        with self._cv:
            self._jobs.append(job)
            self._cv.notify()

    def take(self) -> Job | None:
        with self._cv:
            while not self._jobs and not self.closed:
                self._cv.wait()
            return self._jobs.popleft() if self._jobs else None

    def close(self) -> None:
        with self._cv:
            self.closed = True
            self._cv.notify_all()


class Lane:
    """One thread, one connection, its sessions; `run_job` is given by the workspace (read or write)."""

    def __init__(
        self,
        name: str,
        store: Store,
        settings: Settings,
        log: GroupCommitLog,
        jobs: JobQueue,
        run_job: Callable[[Lane, Job], None],
        snapshot: Callable[[], str] | None = None,
    ) -> None:
        self.store, self.settings, self.log, self.jobs = store, settings, log, jobs
        self._run_job = run_job
        self._snapshot = (
            snapshot  # a reader lane's token for the claims snapshot (Session.use_claims_snapshot)
        )
        self._sessions: OrderedDict[Caller, Session] = OrderedDict()
        self.thread = threading.Thread(target=self._loop, name=name, daemon=True)

    def _loop(self) -> None:
        while (job := self.jobs.take()) is not None:
            self._run_job(self, job)

    def session(self, caller: Caller) -> Session:
        """The caller's session on this lane, made once per (user, purpose, origin); on a reader lane, its
        claims snapshot renewed when the store or the date has changed."""
        g = self._sessions.get(caller)
        if g is None:
            actor = Actor(caller.user_id, None, OWNER)  # an embedded store's workspace acts for its owner
            g = Session(self.store, actor, self.settings, purpose=caller.purpose, origin=caller.origin)
            self._sessions[caller] = g
            while len(self._sessions) > MAX_SESSIONS:
                self._sessions.popitem(last=False)
        self._sessions.move_to_end(caller)
        if self._snapshot is not None:
            g.use_claims_snapshot(self._snapshot())
        return g

    def close(self) -> None:
        """After the thread has ended: drop the sessions and, for a reader, its connection."""
        self._sessions.clear()
        if isinstance(self.store, ReaderStore):
            self.store.close()
