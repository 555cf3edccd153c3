"""The workspace over a server store: PostgreSQL decides what each request sees.

The workspace signs in to PostgreSQL as cg_authenticator only, a role that can read nothing itself. Each
request runs in one transaction on a connection of one of its threads, which begins with SET LOCAL ROLE to
the signed-in user (as PostgREST does): row-level security then answers as it does for the user's own login,
and the transaction's end drops the role. Sign-in checks the user's password with PostgreSQL itself (a SCRAM
login), sessions live in the database (only their hash: any number of worker processes share them), expire,
and are revoked at sign-out; failed sign-ins are recorded and slowed down by the server.
"""

from __future__ import annotations

import asyncio
import threading
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

from casegraph.api.lanes import Caller
from casegraph.api.workspace import HARMLESS, outcome_of, warm_up
from casegraph.errors import EngineError
from casegraph.safeguards import Session, signed_in_session
from casegraph.settings import Settings
from casegraph.store.server import (
    ActingStore,
    WebSession,
    authenticator_connection,
    authenticator_password,
    open_web_session,
    web_session,
)

T = TypeVar("T")
THREADS = 8  # connections per worker process (each request holds one for its transaction)
SESSIONS_PER_THREAD = 64


class ServerWorkspace:
    """`await call(caller, fn)` runs fn(session) as the caller's database role, in one transaction."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.url = str(settings.store.path)
        self._password = authenticator_password()
        authenticator_connection(self.url, self._password).close()  # fail at start, not at the first request
        self._pool = ThreadPoolExecutor(THREADS, thread_name_prefix="casegraph-pg")
        self._local = threading.local()
        self._opened: list[Any] = []
        self._lock = threading.Lock()
        self._stopping = False
        warm_up()

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
            g = signed_in_session(store, self.settings, purpose=caller.purpose, origin=caller.origin)
            sessions[caller] = g
            while len(sessions) > SESSIONS_PER_THREAD:
                sessions.popitem(last=False)
        sessions.move_to_end(caller)
        return g

    def _run(self, caller: Caller, fn: Callable[[Session], T], change: bool) -> T:
        """One transaction as the caller, recorded by one audit entry (written after it ends, either way)."""
        g = self._session(caller)
        result: Any = None
        error: BaseException | None = None
        try:
            with g.transaction():
                try:
                    result = fn(g)
                except HARMLESS as exc:  # raised in Python: the entries already made stay as they are
                    error = exc
                if caller.what:
                    g.log("change" if change else "read", caller.what, outcome=outcome_of(error))
        except Exception as exc:  # a failed statement: rolled back, its entries say so
            error = exc
        if error is not None:
            raise error
        return result

    # -- submitting work ------------------------------------------------------------------------------
    def submit(self, caller: Caller, fn: Callable[[Session], T], *, alone: bool = False) -> Future[T]:
        if self._stopping:
            raise EngineError("the workspace is shutting down")
        return self._pool.submit(self._run, caller, fn, alone)

    async def call(self, caller: Caller, fn: Callable[[Session], T], *, alone: bool = False) -> T:
        return await asyncio.wrap_future(self.submit(caller, fn, alone=alone))

    async def on_connection(self, fn: Callable[[Any], T]) -> T:
        """fn(the authenticator's connection) on a pool thread: only for the sign-in functions it may call."""
        return await asyncio.wrap_future(self._pool.submit(lambda: fn(self._connection())))

    # -- sign-in ------------------------------------------------------------------------------------------
    async def find_session(self, cookie: str) -> WebSession | None:
        return await self.on_connection(lambda conn: web_session(conn, cookie))

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
        with self._lock:
            for conn in self._opened:
                conn.close()
            self._opened.clear()
