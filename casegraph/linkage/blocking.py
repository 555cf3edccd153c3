"""Candidate pairs of a run: every pair when that is cheap, else the union of cheap passes.

A store small enough that all its pairs cost a few seconds (linkage.all_pairs_up_to) is compared whole:
blocking exists to save time and must not lose links where there is no time to save. Above that, the
candidates are the union of
  * neighbours: each incident's k nearest incidents in space and time (neighbours.py), once within its
    offence family and once across families (a crew changes offence, a window by family misses it), and
  * window: incidents of the same family within max_gap_days and max_distance_m, the window narrowed where
    incidents are so dense that it would pass its share of the budget.
Each incident names at most `max_candidates_per_incident` candidates (2 x neighbours + the window's share);
pairs are counted once. The run summary states the plan, the candidates per incident and what each pass
contributed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa

from casegraph.linkage.candidates import Blocking, candidate_pairs_sql, count_candidates_sql, shrunk
from casegraph.linkage.index import INDEX, RunContext, params_for
from casegraph.linkage.neighbours import NeighbourIndex, Scales, embed
from casegraph.settings import LinkageSettings
from casegraph.store import Store

SAMPLE = 2000
MIN_WINDOW_BUDGET = 10


@dataclass(frozen=True)
class Plan:
    """How a run chooses candidate pairs (saved with the model, so `similar` chooses as `link` did)."""

    all_pairs: bool
    window: Blocking | None = None
    neighbours: int = 0
    scales: Scales | None = None
    window_per_incident: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        if self.all_pairs:
            return {"passes": ["all pairs"]}
        out: dict[str, Any] = {"passes": ["neighbours", *(["window"] if self.window else [])]}
        out["neighbours"] = self.neighbours
        out["scales"] = self.scales.as_dict() if self.scales else None
        if self.window:
            out["window"] = {
                **self.window.as_dict(),
                "candidates_per_incident": round(self.window_per_incident, 1),
            }
        return out


@dataclass
class Candidates:
    """Candidate pairs (i < j, index rows), sorted by i then j, with what each pass contributed."""

    i: np.ndarray
    j: np.ndarray
    n_incidents: int
    passes: dict[str, int] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.i)

    def where(self, keep: np.ndarray) -> Candidates:
        return Candidates(self.i[keep], self.j[keep], self.n_incidents, self.passes)

    def within(self, rows: np.ndarray) -> Candidates:
        """The pairs with both incidents among `rows`."""
        inside = np.zeros(self.n_incidents, bool)
        inside[rows] = True
        return self.where(inside[self.i] & inside[self.j])

    def touching(self, rows: np.ndarray) -> Candidates:
        """The pairs with at least one incident among `rows`."""
        inside = np.zeros(self.n_incidents, bool)
        inside[rows] = True
        return self.where(inside[self.i] | inside[self.j])

    def per_incident(self) -> float:
        return 2.0 * len(self) / max(1, self.n_incidents)

    def batches(self, size: int) -> Any:
        for start in range(0, len(self), size):
            yield self.i[start : start + size], self.j[start : start + size]


def configured(settings: LinkageSettings) -> Blocking:
    return Blocking(settings.max_gap_days * 24.0, settings.max_distance_m, settings.same_family)


def sample_rows(n_incidents: int, settings: LinkageSettings) -> np.ndarray:
    """A fixed random sample of index rows (to estimate candidate counts and the linked share)."""
    rng = np.random.default_rng(settings.random_state)
    return np.sort(rng.choice(n_incidents, min(n_incidents, SAMPLE), replace=False)).astype(np.int64)


def per_incident(store: Store, run_id: str, blocking: Blocking, rows: np.ndarray) -> float:
    """Mean window candidates per incident over a sample of index rows."""
    with store.registered("_tmp_linkage_sample", pa.table({"row_no": rows})) as name:
        sql = count_candidates_sql(INDEX, blocking, name)
        return float(store.scalar(sql, params_for(sql, {"run": run_id, **blocking.params()}))) / max(
            1, len(rows)
        )


def choose_window(
    store: Store, run_id: str, settings: LinkageSettings, n_incidents: int, budget: float
) -> tuple[Blocking, float]:
    """The window limits to use and the estimated window candidates per incident under them."""
    blocking = configured(settings)
    rows = sample_rows(n_incidents, settings)
    estimate = per_incident(store, run_id, blocking, rows)
    for _ in range(4):
        if estimate <= budget * 1.05:
            break
        blocking = shrunk(blocking, budget / estimate)
        estimate = per_incident(store, run_id, blocking, rows)
    return blocking, estimate


def choose_plan(store: Store, run_id: str, settings: LinkageSettings, n: int, scales: Scales) -> Plan:
    if n * (n - 1) // 2 <= settings.all_pairs_up_to:
        return Plan(all_pairs=True)
    budget = settings.max_candidates_per_incident - 2 * settings.neighbours
    if budget < MIN_WINDOW_BUDGET:
        return Plan(False, None, settings.neighbours, scales)
    window, estimate = choose_window(store, run_id, settings, n, budget)
    return Plan(False, window, settings.neighbours, scales, estimate)


def candidates_of(ctx: RunContext) -> Candidates:
    """Every candidate pair of the run under its plan, each pair once."""
    plan, index = ctx.plan, ctx.index
    neighbours = None
    if not plan.all_pairs and plan.neighbours:
        points, placed = embed(index.encoded, plan.scales)
        neighbours = NeighbourIndex.build(points, placed, index.family)
    return candidates(ctx.store, ctx.run_id, plan, neighbours, len(index))


def candidates(
    store: Store, run_id: str, plan: Plan, neighbours: NeighbourIndex | None, n: int
) -> Candidates:
    """Every candidate pair of the run under the plan, each pair once."""
    if plan.all_pairs:
        i, j = np.triu_indices(n, 1)
        return Candidates(i.astype(np.int64), j.astype(np.int64), n, {"all pairs": len(i)})
    keys, passes = [], {}
    if neighbours is not None and plan.neighbours:
        # Deduplicated chunk by chunk: a chunk holds neighbouring rows, so most mutual pairs meet in it.
        found = [np.unique(_keys(i, j, n)) for i, j in neighbours.pairs(plan.neighbours)]
        keys.append(np.unique(np.concatenate(found)) if found else np.zeros(0, np.int64))
        passes["neighbours"] = len(keys[-1])
    if plan.window is not None:
        sql = candidate_pairs_sql(INDEX, plan.window)
        pairs = store.arrow(sql, params_for(sql, {"run": run_id, **plan.window.params()}))
        i, j = (pairs.column(c).to_numpy().astype(np.int64) for c in ("i", "j"))
        window = _keys(i, j, n)
        keys.append(np.unique(window))
        passes["window"] = len(keys[-1])
    union = np.unique(np.concatenate(keys)) if keys else np.zeros(0, np.int64)
    return Candidates(union // n, union % n, n, passes)


def _keys(i: np.ndarray, j: np.ndarray, n: int) -> np.ndarray:
    i, j = i.astype(np.int64), j.astype(np.int64)
    return np.minimum(i, j) * n + np.maximum(i, j)
