"""The workspace's reader connections: a read's statements share one snapshot, a read that runs no statement
(answered from the workspace's caches) opens no DuckDB transaction at all, and the claims they read come from a
snapshot of the passing claims, shared by the lanes and renewed after every change."""

from __future__ import annotations

import pytest

from casegraph.safeguards import owner_session
from casegraph.safeguards.claims import drop_claims_snapshots
from casegraph.store.duckdb import ReaderStore


@pytest.fixture
def lane_and_writer(store):
    store.execute("CREATE TABLE notes (n INTEGER)")
    store.execute("INSERT INTO notes VALUES (1)")
    reader, writer = ReaderStore(store), ReaderStore(store)
    yield reader, writer
    reader.close()
    writer.close()


def test_a_reads_statements_share_the_snapshot_of_its_first(lane_and_writer):
    reader, writer = lane_and_writer
    with reader.transaction():
        writer.execute("INSERT INTO notes VALUES (2)")  # before the read's first statement: seen
        assert reader.scalar("SELECT count(*) FROM notes") == 2
        writer.execute("INSERT INTO notes VALUES (3)")  # after it: not seen until the read ends
        assert reader.scalar("SELECT count(*) FROM notes") == 2
    assert reader.scalar("SELECT count(*) FROM notes") == 3


def test_a_read_without_statements_opens_no_transaction(lane_and_writer):
    reader, _ = lane_and_writer
    sent: list[str] = []
    real = reader.con

    class Spy:
        def execute(self, sql, *args):
            sent.append(sql)
            return real.execute(sql, *args)

    reader.con = Spy()  # type: ignore[assignment]
    with reader.transaction():
        pass
    assert sent == []
    with reader.transaction():
        reader.scalar("SELECT 1")
    assert sent == ["BEGIN TRANSACTION", "SELECT 1", "COMMIT"]
    reader.con = real


def test_a_failed_read_is_rolled_back_and_the_connection_reads_on(lane_and_writer):
    reader, _ = lane_and_writer
    with pytest.raises(RuntimeError), reader.transaction():
        assert reader.scalar("SELECT count(*) FROM notes") == 1
        raise RuntimeError("the read's Python failed")
    with reader.transaction():
        assert reader.scalar("SELECT count(*) FROM notes") == 1


def test_a_claims_snapshot_holds_the_passing_claims_until_its_token_changes(city_store_file, tmp_path):
    """The same claims as the rules' view. Which claims pass is what the snapshot holds: a claim that stops
    passing still shows under the old token (which is why the workspace changes it after every change and every
    day) and not under a new one; the rows themselves are read live."""
    from tests.interfaces.test_api import opened_copy

    with opened_copy(city_store_file, tmp_path / "c.duckdb") as (s, store):
        plain = owner_session(store, s, purpose="test: snapshot")
        claims = plain.rows(f"SELECT agency, claim_id FROM {plain.valid_claims()} ORDER BY ALL")
        snap = owner_session(store, s, purpose="test: snapshot")
        snap.use_claims_snapshot("day 1")
        assert snap.rows(f"SELECT agency, claim_id FROM {snap.valid_claims()} ORDER BY ALL") == claims
        assert len(claims) > 10
        store.execute(
            "UPDATE membership_claims SET criteria = [] WHERE agency = ? AND claim_id = ?", list(claims[0])
        )
        snap.use_claims_snapshot("day 1")  # the same token: the snapshot is kept
        assert len(snap.rows(f"SELECT claim_id FROM {snap.valid_claims()}")) == len(claims)
        snap.use_claims_snapshot("day 2")
        assert snap.rows(f"SELECT agency, claim_id FROM {snap.valid_claims()} ORDER BY ALL") == claims[1:]
        snapshots = "SELECT count(*) FROM duckdb_tables() WHERE database_name = 'casegraph_snapshots'"
        assert store.scalar(snapshots) == 2  # day 1's and day 2's, until a change clears them
        drop_claims_snapshots(store)
        assert store.scalar(snapshots) == 0


def test_the_workspace_renews_its_readers_claims_after_a_change(city_store_file, tmp_path):
    from casegraph.api.lanes import Caller
    from casegraph.api.workspace import Workspace
    from tests.interfaces.test_api import copy_store, settings_for

    s = settings_for(copy_store(city_store_file, tmp_path / "w.duckdb"))
    ws = Workspace(s)
    caller = Caller("admin", "test: snapshot", "test")
    try:
        first = ws.submit(
            caller, lambda g: g.rows(f"SELECT agency, claim_id FROM {g.valid_claims()} LIMIT 1")
        ).result()
        before = ws.submit(caller, lambda g: g.scalar(f"SELECT count(*) FROM {g.valid_claims()}")).result()

        def fail_a_claim(g):  # no criteria: it no longer passes
            g.execute(
                "UPDATE membership_claims SET criteria = [] WHERE agency = ? AND claim_id = ?", list(first[0])
            )

        ws.submit(caller, fail_a_claim, alone=True).result()  # a change made through the workspace
        after = {  # every reader lane
            ws.submit(caller, lambda g: g.scalar(f"SELECT count(*) FROM {g.valid_claims()}")).result()
            for _ in range(8)
        }
        assert after == {before - 1}
        shared = ws.submit(
            caller,
            lambda g: g.inner.scalar(
                "SELECT count(*) FROM duckdb_tables() WHERE database_name = 'casegraph_snapshots'"
            ),
            alone=True,
        )
        assert shared.result() == 1  # one snapshot for every lane (this job, a change, drops it when it ends)
    finally:
        ws.close()


def test_the_workspace_cache_forgets_the_least_recently_used_answer(monkeypatch):
    from types import SimpleNamespace

    from casegraph.api import cache

    cache.clear()
    monkeypatch.setattr(cache, "MAX_ENTRIES", 2)
    g = SimpleNamespace(inner=object(), user=SimpleNamespace(agency=None, role="owner"))
    computed: list[str] = []

    def ask(sql: str) -> str:
        return cache.remembered(g, "test", sql, None, lambda: computed.append(sql) or sql)  # type: ignore[arg-type]

    ask("a"), ask("b"), ask("a"), ask("c")  # "b" is now the least recently used: it goes
    ask("a"), ask("c"), ask("b")
    assert computed == ["a", "b", "c", "b"]
    cache.clear()
