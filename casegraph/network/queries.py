"""Query helpers over the network stage's tables (what the CLI, the API and exports read).

The SQL is written once here, in DuckDB's dialect; a server store translates it (store.server.to_postgres), so
the CLI and the workspace ask the same questions of either store."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import pandas as pd

from casegraph.errors import StageNotRun
from casegraph.network.alerts import STAGE, STATUSES, now_utc
from casegraph.store.base import Store

PLAYER_ORDER = ("betweenness", "brokerage", "degree", "strength", "cross_ties", "liaison", "groups_reached")


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as plain JSON-able dicts (lists, ISO dates)."""
    return json.loads(frame.to_json(orient="records", date_format="iso", default_handler=str))


def _ran(store: Store) -> None:
    if not store.scalar("SELECT count(*) FROM runs WHERE stage = 'network' AND status = 'ok'"):
        raise StageNotRun("the network stage has not run yet: run `casegraph network` first")


def ties_sql(*, since: bool, significant_only: bool) -> str:
    where = ["1 = 1"]
    if significant_only:
        where.append("significant")
    if since:
        where.append("last_at >= ?")
    return (
        f"SELECT * FROM group_ties WHERE {' AND '.join(where)} ORDER BY significant DESC, q_value, ratio DESC"
    )


def ties(store: Store, since: date | str | None = None, *, significant_only: bool = True) -> pd.DataFrame:
    """Group ties (significant ones by default) with evidence on or after `since`."""
    _ran(store)
    params = [pd.Timestamp(since).date()] if since else None
    return store.df(ties_sql(since=since is not None, significant_only=significant_only), params)


def _ordered(a: str, b: str) -> tuple[str, str]:
    return (a, b) if a < b else (b, a)


def ordered(a: str, b: str) -> tuple[str, str]:
    """A pair of groups as group_ties stores it (group_a < group_b)."""
    return _ordered(a, b)


def ties_page_sql() -> str:
    """Ties touching a group (all ties when the group is NULL), strongest evidence first, a page at a time;
    parameters: group three times, limit, offset."""
    return (
        "SELECT * FROM group_ties WHERE (? IS NULL OR group_a = ? OR group_b = ?) "
        "ORDER BY p_value, group_a, group_b LIMIT ? OFFSET ?"
    )


def ties_count_sql() -> str:
    return "SELECT count(*) FROM group_ties WHERE (? IS NULL OR group_a = ? OR group_b = ?)"


# Ties among or touching a list of groups (every tie when the list is NULL); parameters: the list three times.
TIES_OF_GROUPS_SQL = (
    "SELECT * FROM group_ties WHERE ? IS NULL OR list_contains(?, group_a) OR list_contains(?, group_b)"
)
TIE_ROW_SQL = "SELECT * FROM group_ties WHERE group_a = ? AND group_b = ?"
# The events behind a tie, oldest first: which two people, what kind, when, the record ids.
TIE_EVENTS_SQL = (
    "SELECT person_a, person_b, kind, event, occurred_on, evidence FROM group_tie_evidence "
    "WHERE group_a = ? AND group_b = ? ORDER BY occurred_on NULLS LAST, event LIMIT 500"
)

# The receivers (fences, dealers) both groups' stolen items went to: a tie of its own kind, outside the test.
TIE_RECEIVERS_SQL = (
    "SELECT receiver, receiver_kind, receiver_group, sightings_a, sightings_b, first_at, last_at, evidence "
    "FROM group_receiver_ties WHERE group_a = ? AND group_b = ? ORDER BY sightings_a + sightings_b DESC, receiver"
)


def tie(store: Store, a: str, b: str) -> dict[str, Any]:
    """One pair of groups: the test row and its evidence month by month (joint events, new person ties,
    people, kinds and the record ids), and the receivers both groups' stolen items went to."""
    _ran(store)
    a, b = _ordered(a, b)
    row = store.df(TIE_ROW_SQL, [a, b])
    months = store.df(monthly_evidence_sql(), [a, b])
    receivers = store.df(TIE_RECEIVERS_SQL, [a, b]) if "group_receiver_ties" in store.table_names() else None
    return {
        "group_a": a,
        "group_b": b,
        "tie": records(row)[0] if len(row) else None,
        "months": records(months),
        "receivers": records(receivers) if receivers is not None else [],
    }


def monthly_evidence_sql() -> str:
    """Per month: joint events, person ties first seen that month, people of each side, kinds, evidence."""
    return """
    WITH ev AS (SELECT * FROM group_tie_evidence WHERE group_a = ? AND group_b = ?),
    firsts AS (SELECT person_a, person_b, min(occurred_on) AS first FROM ev GROUP BY ALL)
    SELECT strftime(date_trunc('month', ev.occurred_on), '%Y-%m') AS month, count(DISTINCT ev.event) AS joint_events,
           count(DISTINCT CASE WHEN ev.occurred_on = f.first THEN ev.person_a || '|' || ev.person_b END) AS new_person_ties,
           count(DISTINCT ev.person_a) AS people_a, count(DISTINCT ev.person_b) AS people_b,
           list_sort(list_distinct(list(ev.kind))) AS kinds,
           list_sort(list_distinct(flatten(list(ev.evidence)))) AS evidence
    FROM ev JOIN firsts f USING (person_a, person_b) GROUP BY 1 ORDER BY 1 NULLS FIRST"""


def players(
    store: Store, by: str = "betweenness", limit: int = 20, group: str | None = None, node: str | None = None
) -> pd.DataFrame:
    """Key players ranked by one measure (optionally within one recorded group, or of one kind of node:
    person, or dealer)."""
    _ran(store)
    if by not in PLAYER_ORDER:
        raise ValueError(f"rank by one of {', '.join(PLAYER_ORDER)}")
    return store.df(
        f"SELECT * FROM key_players WHERE (? IS NULL OR group_id = ?) AND (? IS NULL OR node = ?) "
        f"ORDER BY {by} DESC, person_id LIMIT ?",
        [group, group, node, node, limit],
    )


def person(store: Store, person_id: str) -> dict[str, Any]:
    """One person's measures and typed ties with their evidence."""
    _ran(store)
    row = store.df("SELECT * FROM key_players WHERE person_id = ?", [person_id])
    tied = store.df(
        "SELECT * FROM person_ties WHERE person_a = ? OR person_b = ? ORDER BY weight DESC",
        [person_id, person_id],
    )
    return {"person": records(row)[0] if len(row) else None, "ties": records(tied)}


def graph_frames(store: Store, groups: list[str] | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Nodes (key_players) and edges (person ties summed over kinds) for an export; with `groups`, the
    members of those groups and everyone tied to them."""
    _ran(store)
    edges = store.df(graph_edges_sql(bool(groups)), [groups, groups] if groups else None)
    keep = pd.unique(pd.concat([edges["source"], edges["target"]])) if groups else None
    nodes = store.df("SELECT * FROM key_players ORDER BY person_id")
    if keep is not None:
        nodes = nodes[nodes["person_id"].isin(keep) | nodes["group_id"].isin(groups)]
    return nodes.reset_index(drop=True), edges


def graph_edges_sql(filtered: bool) -> str:
    where = (
        " WHERE list_contains(?::VARCHAR[], group_a) OR list_contains(?::VARCHAR[], group_b)"
        if filtered
        else ""
    )
    return f"""
    SELECT person_a AS source, person_b AS target, sum(weight) AS weight, sum(n_events) AS n_events,
           list_sort(list_distinct(list(kind))) AS kinds, min(first_at) AS first_at, max(last_at) AS last_at,
           list_sort(list_distinct(flatten(list(evidence)))) AS evidence
    FROM person_ties{where} GROUP BY person_a, person_b ORDER BY person_a, person_b"""


def alerts(store: Store, status: str | None = None) -> pd.DataFrame:
    where, params = ("AND status = ?", [STAGE, status]) if status else ("", [STAGE])
    return store.df(
        "SELECT alert_id, kind, subject, title, onset, severity, status, detail, evidence, created_at "
        f"FROM alerts WHERE stage = ? {where} ORDER BY onset, alert_id",
        params,
    )


def acknowledge(
    store: Store, alert: str, user: str, *, status: str = "acknowledged", note: str | None = None
) -> bool:
    """Mark one of this stage's alerts acknowledged (or dismissed, or open again); False if there is none."""
    if status not in STATUSES:
        raise ValueError(f"status must be one of {', '.join(STATUSES)}")
    if not store.rows("SELECT 1 FROM alerts WHERE alert_id = ? AND stage = ?", [alert, STAGE]):
        return False
    store.execute(
        "UPDATE alerts SET status = ?, acknowledged_by = ?, acknowledged_at = ?, note = ? WHERE alert_id = ?",
        [status, user, now_utc(), note, alert],
    )
    return True
