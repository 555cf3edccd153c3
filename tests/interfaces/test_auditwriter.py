"""The workspace's group-committed audit chain: deferred appends release their answers only after the commit
that holds them, keep one verifiable chain across threads, and hand a failed commit's error to every waiter."""

from __future__ import annotations

import threading
from typing import Any

from casegraph.safeguards import verify_log
from casegraph.safeguards.audit import Anchor, Entry
from casegraph.safeguards.groupcommit import GroupCommitLog
from casegraph.store.duckdb import ReaderStore


def _entry(n: int) -> Entry:
    return Entry(
        user_id="analyst", action="read", target="person_records", purpose="test", detail=f"read {n}"
    )


def test_deferred_answers_wait_for_their_commit_and_the_chain_verifies(store, settings):
    log = GroupCommitLog(ReaderStore(store), Anchor(store, settings))
    probe = ReaderStore(store)  # another connection: sees only committed rows
    seen: dict[int, tuple[BaseException | None, int]] = {}
    lock = threading.Lock()

    def reader(n: int) -> None:
        with log.deferred() as tickets:
            log.append([_entry(n), _entry(n + 1000)])

        def answer(error: BaseException | None) -> None:
            committed = int(
                probe.scalar(
                    "SELECT count(*) FROM audit_log WHERE detail IN (?, ?)", [f"read {n}", f"read {n + 1000}"]
                )
            )
            with lock:
                seen[n] = (error, committed)

        log.when_committed(tickets, answer)

    threads = [threading.Thread(target=reader, args=(n,)) for n in range(40)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    log.append([_entry(9999)])  # a synchronous append after them: chained after every deferred one
    log.close()
    assert sorted(seen) == list(range(40))
    assert all(error is None and committed == 2 for error, committed in seen.values())
    assert log.commits < 41  # entries waiting together went out in one commit
    check = verify_log(store, settings)
    assert not check.problems and check.entries == 81
    last = store.rows("SELECT detail FROM audit_log ORDER BY seq DESC LIMIT 1")
    assert last == [("read 9999",)]
    probe.close()


class _Failing(ReaderStore):
    def execute(self, sql: str, params: Any = None) -> None:
        if sql.startswith("INSERT INTO audit_log"):
            raise OSError("disk full")
        super().execute(sql, params)


def test_a_failed_commit_reaches_every_deferred_answer(store, settings):
    log = GroupCommitLog(_Failing(store), Anchor(store, settings))
    errors: list[BaseException | None] = []
    with log.deferred() as tickets:
        log.append([_entry(1)])
    log.when_committed(tickets, errors.append)
    log.close()
    assert len(errors) == 1 and isinstance(errors[0], OSError)
    assert store.scalar("SELECT count(*) FROM audit_log") == 0
    nothing: list[BaseException | None] = []
    log.when_committed([], nothing.append)  # nothing to wait for: answered at once
    assert nothing == [None]
