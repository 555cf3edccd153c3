"""Knox test and near-repeat tables (distance x time bands), vectorised.

Matches the reference implementations (pointpats.spacetime.Knox; Toby Davies' NearRepeat `knox_test`):
a pair is close in space when its distance d <= delta and close in time when |dt| <= tau, and the default
bands are closed on the right: [0, e0], (e0, e1], ... (`closed="left"` gives [0, e0), [e0, e1), ..., which is
what the Near Repeat Calculator computes under its off-by-one labels "a to b").

Why it is fast: the pairs close in space (d <= the largest distance band) are found once with a KD-tree; a
permutation only shuffles the time labels over those pairs, so each permutation is a few vectorised passes
over the close-in-space pairs (never a re-multiplied temporal graph). Pairs close in time are counted
exactly from the sorted times. The statistics need only numpy arrays: no store.
"""

from __future__ import annotations

import itertools
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from scipy.spatial import cKDTree

CHUNK = 1 << 22  # pairs per vectorised pass: keeps temporaries small and cache-friendly


def band_labels(edges: np.ndarray, closed: str) -> list[str]:
    """Interval notation for each band, e.g. '[0, 0.1]', '(0.1, 200]' (closed='right')."""
    lo, hi = ("(", "]") if closed == "right" else ("[", ")")
    labels = [f"[0, {_num(edges[0])}{hi}"]
    labels += [f"{lo}{_num(a)}, {_num(b)}{hi}" for a, b in itertools.pairwise(edges)]
    return labels


def _num(v: float) -> str:
    return f"{float(v):g}"


def _check_edges(edges: Any, name: str) -> np.ndarray:
    arr = np.asarray(edges, dtype=float).ravel()
    if arr.size == 0 or not np.all(np.isfinite(arr)) or arr[0] <= 0 or np.any(np.diff(arr) <= 0):
        raise ValueError(f"{name} must be positive, finite and strictly increasing, got {list(arr)}")
    return arr


@dataclass
class SpacePairs:
    """Pairs (i < j) within the largest distance band, grouped by band: band b is i[offsets[b]:offsets[b+1]]."""

    i: np.ndarray
    j: np.ndarray
    offsets: np.ndarray

    def __len__(self) -> int:
        return len(self.i)

    @property
    def per_band(self) -> np.ndarray:
        return np.diff(self.offsets)


def space_pairs(xy: np.ndarray, edges: np.ndarray, closed: str) -> SpacePairs:
    """All pairs within the last edge (inclusive when closed='right'), found once with a KD-tree."""
    reach = float(edges[-1])
    # Ask the tree for a hair more, then decide every pair on our own distance so the bands are exact.
    found = cKDTree(xy).query_pairs(reach * (1 + 1e-9) + 1e-9, output_type="ndarray").astype(np.int32)
    x, y = np.ascontiguousarray(xy[:, 0]), np.ascontiguousarray(xy[:, 1])
    side: Literal["left", "right"] = "left" if closed == "right" else "right"
    band = np.empty(len(found), dtype=np.int16)
    for start in range(0, len(found), CHUNK):
        a, b = found[start : start + CHUNK, 0], found[start : start + CHUNK, 1]
        d = np.hypot(x[a] - x[b], y[a] - y[b])
        band[start : start + CHUNK] = np.searchsorted(edges, d, side=side)
    # Group by band (then by i, for cache-friendly gathers); band == len(edges) lies beyond the reach.
    order = np.lexsort((found[:, 0], band))
    band = band[order]
    offsets = np.searchsorted(band, np.arange(len(edges) + 1), side="left")
    order = order[: offsets[-1]]
    return SpacePairs(found[order, 0].copy(), found[order, 1].copy(), offsets)


def time_pairs(t: np.ndarray, edges: np.ndarray, closed: str) -> np.ndarray:
    """Number of pairs (over all n(n-1)/2) in each time band, exactly, from the sorted times."""
    ts = np.sort(t)
    idx = np.arange(len(ts))
    side: Literal["left", "right"] = "right" if closed == "right" else "left"
    within = []  # pairs with dt <= e (closed right) or dt < e (closed left)
    for e in edges:
        within.append(int((np.searchsorted(ts, ts + e, side=side) - idx - 1).sum()))
    return np.diff(np.asarray([0, *within], dtype=np.int64))


def compact_times(t: np.ndarray) -> np.ndarray:
    """Whole-numbered times (days) as the smallest integer type that holds their span; else float64."""
    if len(t) and np.all(t == np.round(t)):
        span = t.max() - t.min()
        for dtype in (np.int16, np.int32):
            if span < np.iinfo(dtype).max // 2:
                return (t - t.min()).astype(dtype)
    return t.astype(np.float64)


def _count(pairs: SpacePairs, tp: np.ndarray, t_edges: np.ndarray, closed: str) -> np.ndarray:
    """Contingency (S x T) of close-in-space pairs by time band, for one labelling of the times."""
    n_s, n_t = len(pairs.offsets) - 1, len(t_edges)
    within = np.zeros((n_s, n_t), dtype=np.int64)  # pairs with dt within each edge
    edges = t_edges.astype(tp.dtype) if tp.dtype.kind == "i" else t_edges
    exact = tp.dtype.kind != "i" or np.all(edges == t_edges)
    for s in range(n_s):
        for start in range(pairs.offsets[s], pairs.offsets[s + 1], CHUNK):
            stop = min(start + CHUNK, pairs.offsets[s + 1])
            dt = np.abs(np.take(tp, pairs.i[start:stop]) - np.take(tp, pairs.j[start:stop]))
            for k, e in enumerate(edges if exact else t_edges):
                within[s, k] += np.count_nonzero(dt <= e if closed == "right" else dt < e)
    return np.diff(within, axis=1, prepend=0)


@dataclass
class KnoxTable:
    """A near-repeat table: observed pairs per (distance band, time band) against time-label permutations."""

    s_edges: np.ndarray
    t_edges: np.ndarray
    closed: str
    n: int
    ns: np.ndarray  # pairs per distance band
    nt: np.ndarray  # pairs (of all n(n-1)/2) per time band
    observed: np.ndarray  # S x T
    perms: np.ndarray  # R x S x T
    seed: int | None
    seconds: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def pairs(self) -> int:
        return self.n * (self.n - 1) // 2

    @property
    def expected(self) -> np.ndarray:
        """Exact mean under random time labels: NS_band * NT_band / all pairs."""
        return np.outer(self.ns, self.nt) / self.pairs if self.pairs else np.zeros_like(self.observed, float)

    @property
    def p_values(self) -> np.ndarray:
        """(rank + 1) / (R + 1), rank = permutations with a count >= the observed one."""
        exceed = (self.perms >= self.observed[None]).sum(axis=0)
        return (exceed + 1) / (len(self.perms) + 1)

    def cell(self, s: int, b: int) -> dict[str, Any]:
        obs, sims = int(self.observed[s, b]), self.perms[:, s, b].astype(float)
        median, mean = (float(np.median(sims)), float(sims.mean())) if len(sims) else (np.nan, np.nan)
        sd = float(sims.std()) if len(sims) else np.nan
        return {
            "space_band": band_labels(self.s_edges, self.closed)[s],
            "time_band": band_labels(self.t_edges, self.closed)[b],
            "space_lo": 0.0 if s == 0 else float(self.s_edges[s - 1]),
            "space_hi": float(self.s_edges[s]),
            "time_lo": 0.0 if b == 0 else float(self.t_edges[b - 1]),
            "time_hi": float(self.t_edges[b]),
            "closed": self.closed,
            "n": self.n,
            "ns": int(self.ns[s]),
            "nt": int(self.nt[b]),
            "nst": obs,
            "expected": float(self.expected[s, b]),
            "perm_median": median,
            "perm_mean": mean,
            "ratio_median": _ratio(obs, median),
            "ratio_mean": _ratio(obs, mean),
            "z": _ratio(obs - mean, sd),
            "p": float(self.p_values[s, b]) if len(sims) else None,
        }

    def cells(self) -> list[dict[str, Any]]:
        return [self.cell(s, b) for s in range(len(self.s_edges)) for b in range(len(self.t_edges))]

    def as_dict(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "pairs": self.pairs,
            "permutations": len(self.perms),
            "seed": self.seed,
            "closed": self.closed,
            "space_edges": self.s_edges.tolist(),
            "time_edges": self.t_edges.tolist(),
            "bands": self.cells(),
            "seconds": round(self.seconds, 3),
            **self.extra,
        }


def _ratio(a: float, b: float) -> float | None:
    return float(a / b) if b and np.isfinite(b) and np.isfinite(a) else None


def _permute(
    pairs: SpacePairs,
    tc: np.ndarray,
    t_edges: np.ndarray,
    *,
    closed: str,
    permutations: int,
    seed: int | None,
    workers: int,
) -> np.ndarray:
    """R x S x T counts under random time labels; permutation k uses its own child seed, so the result does
    not depend on the number of worker threads (numpy releases the GIL in these passes)."""
    children = np.random.SeedSequence(seed).spawn(permutations)

    def one(k: int) -> np.ndarray:
        return _count(pairs, tc[np.random.default_rng(children[k]).permutation(len(tc))], t_edges, closed)

    if workers <= 1 or permutations < 2:
        results = [one(k) for k in range(permutations)]
    else:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            results = list(pool.map(one, range(permutations)))
    out = np.zeros((permutations, len(pairs.offsets) - 1, len(t_edges)), dtype=np.int64)
    for k, counts in enumerate(results):
        out[k] = counts
    return out


def near_repeat(
    xy: Any,
    t: Any,
    *,
    space: Any,
    time_bands: Any,
    permutations: int = 99,
    seed: int | None = None,
    closed: str = "right",
    workers: int = 2,
) -> KnoxTable:
    """Knox counts for every (distance band, time band) cell, with a permutation test of each.

    `space` and `time_bands` are the upper edges of the bands (e.g. [0.1, 100, 200] metres, [7, 14] days);
    put a small first edge (0.1 m) for an exact-repeat band when points are generalised.
    """
    started = time.perf_counter()
    xy, t = np.asarray(xy, dtype=float), np.asarray(t, dtype=float).ravel()
    if xy.ndim != 2 or xy.shape[1] != 2 or len(xy) != len(t):
        raise ValueError("xy must be (n, 2) and t (n,) with the same n")
    if closed not in ("right", "left"):
        raise ValueError("closed must be 'right' ([0,a], (a,b]) or 'left' ([0,a), [a,b))")
    if not (np.all(np.isfinite(xy)) and np.all(np.isfinite(t))):
        raise ValueError("coordinates and times must be finite (drop rows without them first)")
    s_edges, t_edges = _check_edges(space, "space bands"), _check_edges(time_bands, "time bands")
    pairs = space_pairs(xy, s_edges, closed)
    tc = compact_times(t)
    observed = _count(pairs, tc, t_edges, closed)
    perms = _permute(pairs, tc, t_edges, closed=closed, permutations=permutations, seed=seed, workers=workers)
    ns = pairs.per_band.astype(np.int64)
    table = KnoxTable(
        s_edges, t_edges, closed, len(t), ns, time_pairs(t, t_edges, closed), observed, perms, seed
    )
    table.seconds = time.perf_counter() - started
    return table


def knox(
    xy: Any,
    t: Any,
    *,
    space: float,
    time_: float,
    permutations: int = 99,
    seed: int | None = None,
    closed: str = "right",
    workers: int = 2,
) -> dict[str, Any]:
    """The classic one-band Knox test: pairs within `space` and within `time_` (both inclusive)."""
    table = near_repeat(
        xy,
        t,
        space=[space],
        time_bands=[time_],
        permutations=permutations,
        seed=seed,
        closed=closed,
        workers=workers,
    )
    cell = table.cell(0, 0)
    cell.update(permutations=permutations, seed=seed, seconds=round(table.seconds, 3), pairs=table.pairs)
    return cell


def overall(table: KnoxTable) -> dict[str, Any]:
    """The Knox test of the whole table at once: close = within the last distance edge and the last time edge."""
    obs, sims = int(table.observed.sum()), table.perms.sum(axis=(1, 2)).astype(float)
    ns, nt = int(table.ns.sum()), int(table.nt.sum())
    median = float(np.median(sims)) if len(sims) else float("nan")
    mean, sd = (float(sims.mean()), float(sims.std())) if len(sims) else (float("nan"), float("nan"))
    s_label, t_label = (
        band_labels(table.s_edges[-1:], table.closed)[0],
        band_labels(table.t_edges[-1:], table.closed)[0],
    )
    return {
        "n": table.n,
        "pairs": table.pairs,
        "ns": ns,
        "nt": nt,
        "nst": obs,
        "expected": ns * nt / table.pairs if table.pairs else 0.0,
        "perm_median": median,
        "perm_mean": mean,
        "ratio_median": _ratio(obs, median),
        "ratio_mean": _ratio(obs, mean),
        "z": _ratio(obs - mean, sd),
        "p": float(((sims >= obs).sum() + 1) / (len(sims) + 1)) if len(sims) else None,
        "space_band": s_label,
        "time_band": t_label,
        "closed": table.closed,
        "permutations": len(sims),
        "seed": table.seed,
        "seconds": round(table.seconds, 3),
    }
