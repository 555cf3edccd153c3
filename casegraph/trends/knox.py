"""Knox test and near-repeat tables (distance x time bands), vectorised.

Matches the reference implementations (pointpats.spacetime.Knox; Toby Davies' NearRepeat `knox_test`):
a pair is close in space when its distance d <= delta and close in time when |dt| <= tau, and the default
bands are closed on the right: [0, e0], (e0, e1], ... (`closed="left"` gives [0, e0), [e0, e1), ..., which is
what the Near Repeat Calculator computes under its off-by-one labels "a to b"). A first edge of 0 is a band of
its own, [0, 0] ("same location" when it is the distance). Distance is Euclidean or Manhattan; `single=True`
rounds the coordinates to single precision and measures in it, as the Near Repeat Calculator does (see nrc.py).

Why it is fast: the pairs close in space (d <= the largest distance band) are found once with a KD-tree; a
permutation only shuffles the time labels over those pairs, so each permutation is a few vectorised passes
over the close-in-space pairs (never a re-multiplied temporal graph). Pairs close in time are counted
exactly from the sorted times. The statistics need only numpy arrays: no store.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numpy as np
from scipy.spatial import cKDTree

CHUNK = 1 << 22  # pairs per vectorised pass: keeps temporaries small and cache-friendly
METRICS = ("euclidean", "manhattan")
# An int (or None) seeds one child generator per permutation; a numpy RandomState is drawn from in order, as
# PySAL's loops draw from numpy's global one (np.random.seed(s) there = RandomState(s) here: same permutations).
Seed = int | np.random.RandomState | None


def band_labels(edges: np.ndarray, closed: str) -> list[str]:
    """Interval notation for each band, e.g. '[0, 0.1]', '(0.1, 200]' (closed='right'); a first edge of 0 is
    the band [0, 0], and the band after it opens at 0 on both sides: '(0, 100)' (closed='left')."""
    lo, hi = ("(", "]") if closed == "right" else ("[", ")")
    labels = [f"[0, {_num(edges[0])}{']' if edges[0] == 0 else hi}"]
    labels += [
        f"{'(' if a == 0 else lo}{_num(a)}, {_num(b)}{')' if np.isinf(b) else hi}"
        for a, b in itertools.pairwise(edges)
    ]
    return labels


def _num(v: float) -> str:
    return f"{float(v):g}"


def _check_edges(edges: Any, name: str) -> np.ndarray:
    arr = np.asarray(edges, dtype=float).ravel()
    if arr.size == 0 or not np.all(np.isfinite(arr)) or arr[0] < 0 or np.any(np.diff(arr) <= 0):
        raise ValueError(
            f"{name} must be finite, strictly increasing and >= 0 (only the first may be 0), got {list(arr)}"
        )
    return arr


def banded(values: np.ndarray, edges: np.ndarray, closed: str) -> np.ndarray:
    """Band index of each value (len(edges) = beyond the last edge); a first edge of 0 holds exactly 0."""
    side: Literal["left", "right"] = "left" if closed == "right" else "right"
    band = np.searchsorted(edges, values, side=side)
    if closed == "left" and edges[0] == 0:
        band[values == 0] = 0
    return band


def _within(values: np.ndarray, edge: float, closed: str) -> int:
    """Values inside the edge: <= edge when closed on the right or when the edge is 0 (the [0, 0] band)."""
    return int(np.count_nonzero(values <= edge if closed == "right" or edge == 0 else values < edge))


def separation(dx: np.ndarray, dy: np.ndarray, metric: str) -> np.ndarray:
    """Distance from coordinate differences (in their precision)."""
    return np.abs(dx) + np.abs(dy) if metric == "manhattan" else np.hypot(dx, dy)


def distances(a: np.ndarray, b: np.ndarray, metric: str) -> np.ndarray:
    """Distance of each row of a to the same row of b."""
    return separation(a[:, 0] - b[:, 0], a[:, 1] - b[:, 1], metric)


def permutation_source(n: int, permutations: int, seed: Seed) -> Callable[[int], np.ndarray]:
    """Permutation k of range(n), k < permutations (see Seed)."""
    if isinstance(seed, np.random.RandomState):
        drawn = [seed.permutation(n) for _ in range(permutations)]
        return drawn.__getitem__
    children = np.random.SeedSequence(seed).spawn(permutations)
    return lambda k: np.random.default_rng(children[k]).permutation(n)


def seed_label(seed: Seed) -> int | str | None:
    return "numpy RandomState" if isinstance(seed, np.random.RandomState) else seed


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


def space_pairs(
    xy: np.ndarray, edges: np.ndarray, closed: str, metric: str = "euclidean", single: bool = False
) -> SpacePairs:
    """All pairs within the last edge (inclusive when closed='right'), found once with a KD-tree."""
    reach = float(edges[-1])
    pts = xy.astype(np.float32) if single else xy
    # Ask the tree for a little more, then decide every pair on our own distance so the bands are exact.
    tree = cKDTree(pts.astype(np.float64))
    found = tree.query_pairs(
        reach * (1 + 1e-6) + 1e-6, p=1 if metric == "manhattan" else 2, output_type="ndarray"
    ).astype(np.int32)
    x, y = np.ascontiguousarray(pts[:, 0]), np.ascontiguousarray(pts[:, 1])
    band = np.empty(len(found), dtype=np.int16)
    for start in range(0, len(found), CHUNK):
        a, b = found[start : start + CHUNK, 0], found[start : start + CHUNK, 1]
        band[start : start + CHUNK] = banded(separation(x[a] - x[b], y[a] - y[b], metric), edges, closed)
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
    within = []  # pairs with dt <= e (closed right, or e = 0) or dt < e (closed left)
    for e in edges:
        side: Literal["left", "right"] = "right" if closed == "right" or e == 0 else "left"
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
                within[s, k] += _within(dt, e, closed)
    return np.diff(within, axis=1, prepend=0)


@dataclass
class KnoxTable:
    """A near-repeat table: observed pairs per (distance band, time band) against time-label permutations.
    With `beyond`, the last row and column are the open bands past the last edges (their edge is inf)."""

    s_edges: np.ndarray
    t_edges: np.ndarray
    closed: str
    n: int
    ns: np.ndarray  # pairs per distance band
    nt: np.ndarray  # pairs (of all n(n-1)/2) per time band
    observed: np.ndarray  # S x T
    perms: np.ndarray  # R x S x T
    seed: int | str | None
    seconds: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)
    metric: str = "euclidean"
    single: bool = False
    beyond: bool = False

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

    def with_beyond(self) -> KnoxTable:
        """The table with the open bands past the last edges added (the Near Repeat Calculator's "More than"
        row and column): they follow from the band totals, which permuting the times leaves unchanged."""
        if self.beyond:
            return self
        ns = np.append(self.ns, self.pairs - self.ns.sum())
        nt = np.append(self.nt, self.pairs - self.nt.sum())
        return replace(
            self,
            s_edges=np.append(self.s_edges, np.inf),
            t_edges=np.append(self.t_edges, np.inf),
            ns=ns,
            nt=nt,
            observed=_fill_beyond(self.observed, ns, nt, self.pairs),
            perms=np.stack([_fill_beyond(p, ns, nt, self.pairs) for p in self.perms])
            if len(self.perms)
            else np.zeros((0, len(ns), len(nt)), dtype=np.int64),
            beyond=True,
        )

    def cell(self, s: int, b: int) -> dict[str, Any]:
        obs, sims = int(self.observed[s, b]), self.perms[:, s, b].astype(float)
        median, mean = (float(np.median(sims)), float(sims.mean())) if len(sims) else (np.nan, np.nan)
        sd = float(sims.std()) if len(sims) else np.nan
        return {
            "space_band": band_labels(self.s_edges, self.closed)[s],
            "time_band": band_labels(self.t_edges, self.closed)[b],
            "space_lo": 0.0 if s == 0 else float(self.s_edges[s - 1]),
            "space_hi": _edge(self.s_edges[s]),
            "time_lo": 0.0 if b == 0 else float(self.t_edges[b - 1]),
            "time_hi": _edge(self.t_edges[b]),
            "closed": self.closed,
            "n": self.n,
            "ns": int(self.ns[s]),
            "nt": int(self.nt[b]),
            "nst": obs,
            "expected": float(self.expected[s, b]),
            "perm_median": median,
            "perm_mean": mean,
            "perm_sd": sd,
            "ratio_median": _ratio(obs, median),
            "ratio_mean": _ratio(obs, mean),
            "z": _ratio(obs - mean, sd),
            "p": float(self.p_values[s, b]) if len(sims) else None,
        }

    def cells(self) -> list[dict[str, Any]]:
        return [self.cell(s, b) for s in range(len(self.s_edges)) for b in range(len(self.t_edges))]

    def settings(self) -> dict[str, Any]:
        """How the table was measured (what a reader needs to compare it with another tool's)."""
        return {
            "n": self.n,
            "pairs": self.pairs,
            "permutations": len(self.perms),
            "seed": self.seed,
            "closed": self.closed,
            "distance": self.metric,
            "precision": "single" if self.single else "double",
            "space_edges": self.s_edges[np.isfinite(self.s_edges)].tolist(),
            "time_edges": self.t_edges[np.isfinite(self.t_edges)].tolist(),
            "open_bands": self.beyond,
        }

    def as_dict(self) -> dict[str, Any]:
        return {**self.settings(), "bands": self.cells(), "seconds": round(self.seconds, 3), **self.extra}


def _fill_beyond(inner: np.ndarray, ns: np.ndarray, nt: np.ndarray, pairs: int) -> np.ndarray:
    """An S x T count table grown to (S+1) x (T+1) with the pairs past the last edges, from the totals."""
    out = np.zeros((len(ns), len(nt)), dtype=np.int64)
    out[:-1, :-1] = inner
    out[:-1, -1] = ns[:-1] - inner.sum(axis=1)
    out[-1, :-1] = nt[:-1] - inner.sum(axis=0)
    out[-1, -1] = pairs - out[:-1, :].sum() - out[-1, :-1].sum()
    return out


def _edge(v: float) -> float | None:
    """A band's upper edge; None for the open band past the last edge (JSON has no infinity)."""
    return float(v) if np.isfinite(v) else None


def _ratio(a: float, b: float) -> float | None:
    return float(a / b) if b and np.isfinite(b) and np.isfinite(a) else None


def threaded(fn: Callable[[Any], Any], items: Any, workers: int) -> list[Any]:
    """fn(item) for each item, in order, on `workers` threads (numpy releases the GIL in vectorised passes)."""
    items = list(items)
    if workers <= 1 or len(items) < 2:
        return [fn(item) for item in items]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(fn, items))


def run_permutations(
    one: Callable[[np.ndarray], Any], order: Callable[[int], np.ndarray], ks: range, workers: int
) -> list[Any]:
    """one(order(k)) for each k in ks, threaded; permutation k is the same whatever the number of threads."""
    return threaded(lambda k: one(order(k)), ks, workers)


def _permute(
    pairs: SpacePairs,
    tc: np.ndarray,
    t_edges: np.ndarray,
    *,
    closed: str,
    permutations: int,
    seed: Seed,
    workers: int,
) -> np.ndarray:
    """R x S x T counts under random time labels."""
    results = run_permutations(
        lambda order: _count(pairs, tc[order], t_edges, closed),
        permutation_source(len(tc), permutations, seed),
        range(permutations),
        workers,
    )
    out = np.zeros((permutations, len(pairs.offsets) - 1, len(t_edges)), dtype=np.int64)
    for k, counts in enumerate(results):
        out[k] = counts
    return out


def check_points(xy: Any, t: Any) -> tuple[np.ndarray, np.ndarray]:
    """(n, 2) coordinates and (n,) times as float arrays, or a ValueError that says what is wrong."""
    xy, t = np.asarray(xy, dtype=float), np.asarray(t, dtype=float).ravel()
    if xy.ndim != 2 or xy.shape[1] != 2 or len(xy) != len(t):
        raise ValueError("xy must be (n, 2) and t (n,) with the same n")
    if not (np.all(np.isfinite(xy)) and np.all(np.isfinite(t))):
        raise ValueError("coordinates and times must be finite (drop rows without them first)")
    return xy, t


def check_options(closed: str, metric: str) -> None:
    if closed not in ("right", "left"):
        raise ValueError("closed must be 'right' ([0,a], (a,b]) or 'left' ([0,a), [a,b))")
    if metric not in METRICS:
        raise ValueError(f"distance must be one of {', '.join(METRICS)}, got {metric!r}")


def near_repeat(
    xy: Any,
    t: Any,
    *,
    space: Any,
    time_bands: Any,
    permutations: int = 99,
    seed: Seed = None,
    closed: str = "right",
    workers: int = 2,
    metric: str = "euclidean",
    single: bool = False,
) -> KnoxTable:
    """Knox counts for every (distance band, time band) cell, with a permutation test of each.

    `space` and `time_bands` are the upper edges of the bands (e.g. [0.1, 100, 200] metres, [7, 14] days);
    put a small first edge (0.1 m) for an exact-repeat band when points are generalised, or 0 for pairs at
    exactly the same place. `metric` is euclidean or manhattan; `single` measures in single precision.
    """
    started = time.perf_counter()
    xy, t = check_points(xy, t)
    check_options(closed, metric)
    s_edges, t_edges = _check_edges(space, "space bands"), _check_edges(time_bands, "time bands")
    pairs = space_pairs(xy, s_edges, closed, metric, single)
    tc = compact_times(t)
    observed = _count(pairs, tc, t_edges, closed)
    perms = _permute(pairs, tc, t_edges, closed=closed, permutations=permutations, seed=seed, workers=workers)
    ns = pairs.per_band.astype(np.int64)
    nt = time_pairs(t, t_edges, closed)
    table = KnoxTable(
        s_edges,
        t_edges,
        closed,
        len(t),
        ns,
        nt,
        observed,
        perms,
        seed_label(seed),
        metric=metric,
        single=single,
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
    seed: Seed = None,
    closed: str = "right",
    workers: int = 2,
    metric: str = "euclidean",
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
        metric=metric,
    )
    cell = table.cell(0, 0)
    cell.update(
        permutations=permutations, seed=table.seed, seconds=round(table.seconds, 3), pairs=table.pairs
    )
    return cell


def overall(table: KnoxTable) -> dict[str, Any]:
    """The Knox test of the whole table at once: close = within the last distance edge and the last time edge
    (the last finite ones when the table has the open bands past them)."""
    inner = slice(None, -1) if table.beyond else slice(None)
    obs = int(table.observed[inner, inner].sum())
    sims = table.perms[:, inner, inner].sum(axis=(1, 2)).astype(float)
    ns, nt = int(table.ns[inner].sum()), int(table.nt[inner].sum())
    median = float(np.median(sims)) if len(sims) else float("nan")
    mean, sd = (float(sims.mean()), float(sims.std())) if len(sims) else (float("nan"), float("nan"))
    s_label, t_label = (
        band_labels(table.s_edges[inner][-1:], table.closed)[0],
        band_labels(table.t_edges[inner][-1:], table.closed)[0],
    )
    return {
        **table.settings(),
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
        "seconds": round(table.seconds, 3),
    }
