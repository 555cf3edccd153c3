"""The workspace's reader connections: a read's statements share one snapshot, and a read that runs no
statement (answered from the workspace's caches) opens no DuckDB transaction at all."""

from __future__ import annotations

import pytest

from casegraph.api.lanes import ReaderStore


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
