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

import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
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
# First rows per chunk of candidate pairs: ~100 candidates an incident make a chunk of ~40 MB.
CHUNK_ROWS = 50_000


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


class Candidates:
    """Candidate pairs (i < j, index rows), sorted by i then j, with what each pass contributed.

    They are held in chunks by the range of i, each chunk in memory or (at scale) in a temporary file read
    back one at a time, so a run's memory holds one chunk, never all of its tens of millions of pairs.
    """

    def __init__(
        self, chunks: list[Chunk], n_incidents: int, passes: dict[str, int], spill: Spill | None = None
    ) -> None:
        self.chunks, self.n_incidents, self.passes, self.spill = chunks, n_incidents, passes, spill
        self.count = sum(c.count for c in chunks)

    @classmethod
    def of(cls, i: np.ndarray, j: np.ndarray, n_incidents: int, passes: dict[str, int]) -> Candidates:
        return cls([Chunk.of(i, j)], n_incidents, passes)

    def __len__(self) -> int:
        return self.count

    def pairs(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Each chunk's (i, j), in order."""
        for chunk in self.chunks:
            yield chunk.pairs()

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """All pairs as two arrays (for a subset, e.g. within(); a whole run's pairs would fill memory)."""
        parts = list(self.pairs())
        empty = np.zeros(0, np.int64)
        return np.concatenate([empty, *(i for i, _ in parts)]), np.concatenate(
            [empty, *(j for _, j in parts)]
        )

    def within(self, rows: np.ndarray) -> Candidates:
        """The pairs with both incidents among `rows` (in memory: a subset, e.g. the solved incidents)."""
        inside = np.zeros(self.n_incidents, bool)
        inside[rows] = True
        kept_i, kept_j = [np.zeros(0, np.int64)], [np.zeros(0, np.int64)]
        for i, j in self.pairs():
            keep = inside[i] & inside[j]
            kept_i.append(i[keep])
            kept_j.append(j[keep])
        return Candidates.of(np.concatenate(kept_i), np.concatenate(kept_j), self.n_incidents, self.passes)

    def per_incident(self) -> float:
        return 2.0 * len(self) / max(1, self.n_incidents)

    def batches(self, size: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        for i, j in self.pairs():
            for start in range(0, len(i), size):
                yield i[start : start + size], j[start : start + size]


@dataclass
class Chunk:
    """Pairs as one (m, 2) int32 array, or the temporary file holding it."""

    count: int
    array: np.ndarray | None = None
    path: Path | None = None

    @classmethod
    def of(cls, i: np.ndarray, j: np.ndarray) -> Chunk:
        return cls(len(i), np.column_stack([i, j]).astype(np.int32))

    def pairs(self) -> tuple[np.ndarray, np.ndarray]:
        array = self.array if self.array is not None else np.load(str(self.path))
        return array[:, 0].astype(np.int64), array[:, 1].astype(np.int64)


class Spill:
    """A temporary folder for chunks of pairs (removed with the Candidates that hold it)."""

    def __init__(self) -> None:
        self.folder = tempfile.TemporaryDirectory(prefix="casegraph-linkage-")
        self.written = 0

    def keep(self, array: np.ndarray) -> Path:
        self.written += 1
        path = Path(self.folder.name) / f"{self.written}.npy"
        np.save(path, array)
        return path

    def chunk(self, keys: np.ndarray, n: int) -> Chunk:
        """Sorted unique pair keys (i * n + j) as a chunk in a file."""
        pairs = np.column_stack([keys // n, keys % n]).astype(np.int32)
        return Chunk(len(keys), path=self.keep(pairs))


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


def candidates_of(ctx: RunContext, chunk_rows: int = CHUNK_ROWS) -> Candidates:
    """Every candidate pair of the run under its plan, each pair once."""
    plan, index = ctx.plan, ctx.index
    neighbours = None
    if not plan.all_pairs and plan.neighbours:
        points, placed = embed(index.encoded, plan.scales)
        neighbours = NeighbourIndex.build(points, placed, index.family)
    threads = threads_of(ctx.settings)
    return candidates(ctx.store, ctx.run_id, plan, neighbours, len(index), chunk_rows, threads)


def threads_of(settings: LinkageSettings) -> int:
    """Threads for the neighbour search and scoring: the setting, or (0) one per core this process may use."""
    return settings.threads or len(os.sched_getaffinity(0))


def candidates(
    store: Store,
    run_id: str,
    plan: Plan,
    neighbours: NeighbourIndex | None,
    n: int,
    chunk_rows: int = CHUNK_ROWS,
    threads: int = 1,
) -> Candidates:
    """Every candidate pair of the run under the plan, each pair once, in chunks of `chunk_rows` first rows.

    A pair belongs to the chunk of its first (smaller) row. The neighbour pairs, found incident by incident,
    are filed by chunk as they come; then each chunk is completed with its window pairs (the window query
    restricted to the chunk's first rows) and deduplicated alone. Memory holds one chunk of pairs at a time.
    """
    if plan.all_pairs:
        i, j = np.triu_indices(n, 1)
        return Candidates.of(i.astype(np.int64), j.astype(np.int64), n, {"all pairs": len(i)})
    spill = Spill()
    starts = range(0, n, chunk_rows)
    filed: list[list[Path]] = [[] for _ in starts]
    if neighbours is not None and plan.neighbours:
        bounds = np.arange(len(filed) + 1, dtype=np.int64) * chunk_rows * n  # keys sort by first row
        for keys in neighbours.pairs(
            plan.neighbours, threads=threads, then=lambda i, j: _unique(_keys(i, j, n))
        ):
            edges = np.searchsorted(keys, bounds)
            for part in np.flatnonzero(np.diff(edges)).tolist():
                filed[part].append(spill.keep(keys[edges[part] : edges[part + 1]]))
    passes = {"neighbours": 0, **({"window": 0} if plan.window is not None else {})}
    chunks = []
    for b, start in enumerate(starts):
        near = _merged([np.load(str(p)) for p in filed[b]])
        for path in filed[b]:
            path.unlink()
        passes["neighbours"] += len(near)
        keys = near
        if plan.window is not None:
            window = _window_keys(store, run_id, plan.window, n, start, min(n, start + chunk_rows))
            passes["window"] += len(window)
            keys = _merged([near, window])
        chunks.append(spill.chunk(keys, n))
    if neighbours is None or not plan.neighbours:
        passes.pop("neighbours")
    return Candidates(chunks, n, passes, spill)


def _window_keys(store: Store, run_id: str, window: Blocking, n: int, lo: int, hi: int) -> np.ndarray:
    """Sorted keys of the window pairs whose first row is in [lo, hi) (the query lists each pair once)."""
    sql = f"SELECT i, j FROM ({candidate_pairs_sql(INDEX, window, first_rows=True)}) ORDER BY i, j"
    values = {"run": run_id, "lo": lo, "hi": hi, **window.params()}
    pairs = store.arrow(sql, params_for(sql, values))
    i, j = (pairs.column(c).to_numpy().astype(np.int64) for c in ("i", "j"))
    return i * n + j


def _merged(parts: list[np.ndarray]) -> np.ndarray:
    """The union of sorted key arrays, sorted, each key once (a stable sort merges sorted runs in linear time)."""
    return _distinct(np.sort(np.concatenate([np.zeros(0, np.int64), *parts]), kind="stable"))


def _unique(keys: np.ndarray) -> np.ndarray:
    """np.unique(keys), by sorting: numpy 2.3+ hashes integers in np.unique, which took 20 times as long as
    this sort on a chunk of a million distinct pair keys."""
    return _distinct(np.sort(keys))


def _distinct(ordered: np.ndarray) -> np.ndarray:
    """Each value of a sorted array once."""
    return ordered[np.concatenate([[True], ordered[1:] != ordered[:-1]])] if len(ordered) else ordered


def _keys(i: np.ndarray, j: np.ndarray, n: int) -> np.ndarray:
    i, j = i.astype(np.int64), j.astype(np.int64)
    return np.minimum(i, j) * n + np.maximum(i, j)
