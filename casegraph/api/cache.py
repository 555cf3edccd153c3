"""A cache of small aggregate answers (row counts, "has this table rows", newest dates) per store and reader.

Exact, not approximate: while the workspace runs it holds the store open, so no other process can write,
and every change made through the API runs as an `alone` job, after which the workspace clears the cache.
Answers are also kept for one day at most: which membership claims count depends on the date. At most
MAX_ENTRIES answers are kept, the least recently used forgotten first (one filter too many used to empty the
whole cache, the name search's index with it).
Aggregates are kept, and the name search's index (names.py: read once, audited, each search audited); other
person-level rows are always read (and audited) afresh.
On a server store other processes write at any time (CLI runs, other workers): only what the schema fixes
(tables and their columns) is kept, everything else is asked afresh.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from datetime import date
from typing import Any

from casegraph.safeguards import Session

_lock = threading.Lock()
_values: OrderedDict[tuple[Any, ...], Any] = OrderedDict()  # least recently used first
MAX_ENTRIES = 10_000
SCHEMA_KINDS = ("tables", "columns")


def _key(g: Session, kind: str, sql: str, params: list[Any] | None) -> tuple[Any, ...]:
    frozen = tuple(tuple(p) if isinstance(p, list) else p for p in params or [])
    store = getattr(g.inner, "family", id(g.inner))  # the reader connections of one store share answers
    # today: which claims count changes at midnight (review dates), with no change to the store
    return (store, g.user.agency, g.user.role, date.today(), kind, sql, frozen)


def remembered(g: Session, kind: str, sql: str, params: list[Any] | None, compute: Callable[[], Any]) -> Any:
    """compute() once per (store, reader, statement, parameters) until the next change."""
    if getattr(g, "engine", None) == "postgres" and kind not in SCHEMA_KINDS:
        return compute()
    key = _key(g, kind, sql, params)
    with _lock:
        if key in _values:
            _values.move_to_end(key)
            return _values[key]
    value = compute()
    with _lock:
        _values[key] = value
        while len(_values) > MAX_ENTRIES:  # the least recently used go first (not the name index in use)
            _values.popitem(last=False)
    return value


def scalar(g: Session, sql: str, params: list[Any] | None = None) -> Any:
    return remembered(g, "scalar", sql, params, lambda: g.scalar(sql, params))


def clear() -> None:
    with _lock:
        _values.clear()
