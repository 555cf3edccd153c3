"""Stable ids for clusters that are recomputed by every run (persons of resolve, series of linkage).

A run clusters its members afresh; the ids an analyst has written down must not change with it. Each new cluster
inherits the previous id it shares most members with (greedily, largest overlap first, so one previous id goes to
one new cluster), and what happened to each id is recorded as an event: founded, grew or shrank, merged (a cluster
that took in members of several previous ids keeps one of them; the others are named in `from_ids`), split (a
cluster formed from part of a previous id that another cluster kept) and retired (a previous id no cluster took:
its members were merged into others, or are gone). Unchanged clusters record no event.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

LINEAGE = "id_lineage"
EVENT_COLUMNS = ["id", "event", "from_ids", "members", "previous_members"]


@dataclass(frozen=True)
class CarriedIds:
    """The id of each current member (in the order given) and the lineage events of this run."""

    ids: np.ndarray
    events: pd.DataFrame


def carry_ids(
    previous: pd.DataFrame, keys: np.ndarray, labels: np.ndarray, fresh: Callable[[pd.Series], pd.Series]
) -> CarriedIds:
    """Ids for the clusters `labels` of the members `keys`, carried over from `previous` (columns key, id).

    `fresh(first_keys)` names clusters that inherit nothing, from each one's least member key (indexed by label);
    a name already in use (a previous id, or one just given) is made distinct by suffixing a counter."""
    current = pd.DataFrame({"key": keys, "label": labels})
    before = previous[["key", "id"]].drop_duplicates("key")
    carried = _inherited(current.merge(before, on="key"))
    sizes = current.groupby("label").size()
    unnamed = sizes.index.difference(pd.Index(list(carried)))
    first = current[current["label"].isin(unnamed)].groupby("label")["key"].min()
    taken = set(before["id"]) | set(carried.values())
    names = {**carried, **_distinct(fresh(first), taken)}
    ids = current["label"].map(names).to_numpy()
    return CarriedIds(ids, _events(current.assign(id=ids), before, carried))


def _inherited(overlap: pd.DataFrame) -> dict[int, str]:
    """label -> previous id, largest overlap first (ties: the lesser id), each id and label used once."""
    counts = overlap.groupby(["label", "id"]).size().reset_index(name="n")
    counts = counts.sort_values(["n", "id", "label"], ascending=[False, True, True])
    given: dict[int, str] = {}
    used: set[str] = set()
    for label, old, _ in counts.itertuples(index=False, name=None):
        if label not in given and old not in used:
            given[label] = old
            used.add(old)
    return given


def _distinct(names: pd.Series, taken: set[str]) -> dict[int, str]:
    out: dict[int, str] = {}
    for label, name in names.items():
        chosen, n = name, 1
        while chosen in taken:
            chosen, n = f"{name}-{n}", n + 1
        taken.add(chosen)
        out[label] = chosen
    return out


def _events(now: pd.DataFrame, before: pd.DataFrame, carried: dict[int, str]) -> pd.DataFrame:
    joined = now.merge(before.rename(columns={"id": "old"}), on="key", how="left")
    olds = _lists(joined, "id", "old")  # new id -> the previous ids of its members
    went_to = _lists(joined, "old", "id")  # previous id -> the new ids its members went to
    members = now.groupby("id").size().to_dict()
    previous = before.groupby("id").size().to_dict()
    kept = set(carried.values())
    moved = _moved(joined)
    rows: list[tuple[str, str, list[str], int, int]] = []
    for new_id, n in members.items():
        sources = olds.get(new_id, [])
        had = int(previous.get(new_id, 0))
        if not sources:
            rows.append((new_id, "founded", [], int(n), 0))
        elif new_id not in kept:
            rows.append((new_id, "split", sources, int(n), 0))
        elif len(sources) > 1:
            rows.append((new_id, "merged", [s for s in sources if s != new_id], int(n), had))
        elif n != had or new_id in moved:
            rows.append((new_id, "grew" if n > had else "shrank" if n < had else "changed", [], int(n), had))
    for old_id in sorted(set(previous) - kept):
        rows.append((old_id, "retired", went_to.get(old_id, []), 0, int(previous[old_id])))
    return pd.DataFrame(rows, columns=EVENT_COLUMNS)


def _lists(joined: pd.DataFrame, key: str, value: str) -> dict[str, list[str]]:
    """key -> the sorted distinct values beside it (rows with both), in one pass (no per-group Python calls)."""
    pairs = joined[[key, value]].dropna().drop_duplicates().sort_values([key, value])
    out: dict[str, list[str]] = {}
    for k, v in pairs.itertuples(index=False, name=None):
        out.setdefault(k, []).append(v)
    return out


def _moved(joined: pd.DataFrame) -> set[str]:
    """The ids with a member that was not theirs before (same size, other members: some left and as many
    came), found in one pass over the members."""
    return set(joined.loc[joined["old"] != joined["id"], "id"])


def lineage_rows(events: pd.DataFrame, *, run_id: str, stage: str, at: pd.Timestamp) -> pd.DataFrame:
    """The events as rows of the id_lineage table."""
    return events.assign(run_id=run_id, stage=stage, recorded_at=at)[
        ["run_id", "stage", "id", "event", "from_ids", "members", "previous_members", "recorded_at"]
    ]


def id_changes(events: pd.DataFrame) -> dict[str, int]:
    """How many ids each kind of event touched (for a run's summary): {"founded": 3, "merged": 1, ...}."""
    return {str(k): int(v) for k, v in events["event"].value_counts().sort_index().items()}
