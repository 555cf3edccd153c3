"""The workspace over a server store: PostgreSQL decides what each request sees.

The workspace signs in to PostgreSQL as cg_authenticator only, a role that can read nothing itself. Each
request runs in one transaction on a connection of one of its threads, whose first statement takes the role
of the signed-in user (set_config('role', ..., true), as PostgREST does) from the live session its cookie
opens, in the same statement that checks the session: row-level security then answers as it does for the
user's own login, the transaction's end drops the role, and a session signed out or expired (on any worker)
opens nothing more. Sign-in checks the user's password with PostgreSQL itself (a SCRAM login), sessions live
in the database (only their hash: any number of worker processes share them), expire, and are revoked at
sign-out; failed sign-ins are recorded and slowed down by the server.

A request's audit entry is written after its transaction ends, either way, by group commit: one committer per
worker process hands the entries of every request finished meanwhile to the server in one statement, which
chains and MACs them under the chain head's row lock (one commit for many requests); each answer waits for
the commit that holds its entry.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

from casegraph.api.lanes import Caller
from casegraph.api.workspace import HARMLESS, ApiProblem, outcome_of, warm_up
from casegraph.errors import EngineError
from casegraph.safeguards import Session, signed_in_session
from casegraph.safeguards.audit import Entry
from casegraph.safeguards.groupcommit import ServerGroupCommitLog
from casegraph.safeguards.session import share_audit_log
from casegraph.settings import Settings
from casegraph.store.server import (
    ActingStore,
    SessionEnded,
    WebSession,
    audit_append_for,
    authenticator_connection,
    authenticator_password,
    open_web_session,
    web_session,
)

T = TypeVar("T")
THREADS = 8  # connections per worker process (each request holds one for its transaction)
SESSIONS_PER_THREAD = 64
# A session found by its cookie is kept this long without asking the server again. Every request that reads
# checks it anyway (the statement that takes the user's role), so a sign-out on any worker ends its reads at
# once; what waits for this is only a purpose changed on another worker and the answers that read nothing.
SESSION_RECHECK_SECONDS = 2.0
KNOWN_SESSIONS = 4096


class ServerWorkspace:
    """`await call(caller, fn)` runs fn(session) as the caller's database role, in one transaction."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.url = str(settings.store.path)
        self._password = authenticator_password()
        self._committer = authenticator_connection(self.url, self._password)  # fails at start, not later
        self.log = ServerGroupCommitLog(self._write_entries)
        self._pool = ThreadPoolExecutor(THREADS, thread_name_prefix="casegraph-pg")
        self._local = threading.local()
        self._opened: list[Any] = [self._committer]
        self._lock = threading.Lock()
        self._known: OrderedDict[str, tuple[float, WebSession]] = OrderedDict()
        self._stopping = False
        warm_up()

    def _write_entries(self, entries: list[Entry]) -> int:
        return audit_append_for(self._committer, [e.__dict__ for e in entries])

    # -- connections and sessions (on a pool thread) ---------------------------------------------------
    def _connection(self) -> Any:
        conn = getattr(self._local, "conn", None)
        if conn is None or conn.closed or conn.broken:
            conn = authenticator_connection(self.url, self._password)
            self._local.conn, self._local.sessions = conn, OrderedDict()
            with self._lock:
                self._opened.append(conn)
        return conn

    def _session(self, caller: Caller) -> Session:
        """The caller's session on this thread's connection (made once per user, purpose and origin)."""
        conn = self._connection()
        sessions: OrderedDict[Caller, Session] = self._local.sessions
        g = sessions.get(caller)
        if g is None:
            store = ActingStore(self.settings.store, self.url, conn, caller.user_id)
            share_audit_log(store, self.log)
            g = signed_in_session(store, self.settings, purpose=caller.purpose, origin=caller.origin)
            sessions[caller] = g
            while len(sessions) > SESSIONS_PER_THREAD:
                sessions.popitem(last=False)
        sessions.move_to_end(caller)
        return g

    def _run(self, caller: Caller, fn: Callable[[Session], T], change: bool, answer: Future[T]) -> None:
        """One transaction as the caller, recorded by one audit entry (written after it ends, either way); the
        answer is released once the entry is committed."""
        try:
            g = self._session(caller)
        except Exception as exc:
            answer.set_exception(exc)
            return
        result: Any = None
        error: BaseException | None = None
        g.inner.cookie = caller.cookie  # type: ignore[attr-defined]
        with self.log.deferred() as tickets:
            try:
                with g.transaction():
                    try:
                        result = fn(g)
                    except HARMLESS as exc:  # raised in Python: the entries already made stay as they are
                        error = exc
                    if caller.what:
                        g.log("change" if change else "read", caller.what, outcome=outcome_of(error))
            except SessionEnded:
                self.forget_session(caller.cookie)
                error = ApiProblem(401, "this session has ended (signed out or expired): sign in again")
            except Exception as exc:  # a failed statement: rolled back, its entries say so
                error = exc
        self.log.when_committed(tickets, lambda failed: _settle(answer, result, error or failed))

    # -- submitting work ------------------------------------------------------------------------------
    def submit(self, caller: Caller, fn: Callable[[Session], T], *, alone: bool = False) -> Future[T]:
        if self._stopping:
            raise EngineError("the workspace is shutting down")
        answer: Future[T] = Future()
        self._pool.submit(self._run, caller, fn, alone, answer)
        return answer

    async def call(self, caller: Caller, fn: Callable[[Session], T], *, alone: bool = False) -> T:
        return await asyncio.wrap_future(self.submit(caller, fn, alone=alone))

    async def on_connection(self, fn: Callable[[Any], T]) -> T:
        """fn(the authenticator's connection) on a pool thread: only for the sign-in functions it may call."""
        return await asyncio.wrap_future(self._pool.submit(lambda: fn(self._connection())))

    # -- sign-in ------------------------------------------------------------------------------------------
    async def find_session(self, cookie: str) -> WebSession | None:
        """The live session of a cookie: asked of the server at most every SESSION_RECHECK_SECONDS (each read
        checks it again in its own transaction)."""
        now = time.monotonic()
        with self._lock:
            known = self._known.get(cookie)
        if known is not None and known[0] > now:
            return known[1]
        found = await self.on_connection(lambda conn: web_session(conn, cookie))
        with self._lock:
            if found is None:
                self._known.pop(cookie, None)
            else:
                self._known[cookie] = (now + SESSION_RECHECK_SECONDS, found)
                self._known.move_to_end(cookie)
                while len(self._known) > KNOWN_SESSIONS:
                    self._known.popitem(last=False)
        return found

    def forget_session(self, cookie: str) -> None:
        with self._lock:
            self._known.pop(cookie, None)

    async def sign_in(
        self, user: str, password: str, *, purpose: str, origin: str, hours: float
    ) -> tuple[str, WebSession] | None:
        """A new session for a right password; None (recorded, after the server's delay) for a wrong one."""
        return await asyncio.to_thread(
            open_web_session, self.url, user, password, purpose=purpose, origin=origin, hours=hours
        )

    def close(self) -> None:
        self._stopping = True
        self._pool.shutdown(wait=True)
        self.log.close()  # commits the entries of the last requests, which releases their answers
        with self._lock:
            for conn in self._opened:
                conn.close()
            self._opened.clear()


def _settle(answer: Future[Any], result: Any, error: BaseException | None) -> None:
    if error is None:
        answer.set_result(result)
    else:
        answer.set_exception(error)
