"""Space-time interaction tests beside the Knox table: local Knox (which events drive the clustering, and the
near-repeat chains they form), Baker's modified Knox, Jacquez's k-nearest-neighbour test and the Mantel test.

Each is the statistic of pointpats (PySAL) computed over arrays of pairs instead of Python loops or n x n
matrices: the pairs close in space are found once with a KD-tree, and a permutation of the times is a few
vectorised passes over them. Given the same numpy RandomState they draw the same permutations as pointpats
(whose loops use numpy's global one), so the permutation p-values are equal too, not only the statistics.
Conventions kept from pointpats, as its users would expect them: close means distance <= delta and |dt| <= tau;
local Knox's permutations keep the event's own time and shuffle the others' (conditional randomisation); its
analytic p-value averages the hypergeometric tail over every event's number of time neighbours; k nearest
neighbours are scipy's KD-tree's, so ties (many events on one day) are broken as libpysal's KNN breaks them.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import sparse
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree
from scipy.stats import hypergeom, poisson

from casegraph.trends.knox import (
    Seed,
    check_options,
    check_points,
    compact_times,
    distances,
    permutation_source,
    run_permutations,
    seed_label,
    space_pairs,
    threaded,
)

MANTEL_PARTS = 8  # row blocks of the Mantel test, each summed alone, then added in order


def _p_sim(sims: np.ndarray, observed: float) -> float:
    """(permutations >= observed + 1) / (permutations + 1)."""
    return float(((sims >= observed).sum() + 1) / (len(sims) + 1))


def close_in_space(xy: np.ndarray, delta: float, metric: str = "euclidean") -> np.ndarray:
    """Pairs (i < j) with distance <= delta, as an (m, 2) array."""
    pairs = space_pairs(xy, np.array([float(delta)]), "right", metric)
    return np.column_stack([pairs.i, pairs.j]).astype(np.int64)


def time_neighbours(t: np.ndarray, tau: float) -> np.ndarray:
    """For each event, how many others lie within tau of it in time (|dt| <= tau), from the sorted times."""
    ts = np.sort(t)
    return np.searchsorted(ts, t + tau, side="right") - np.searchsorted(ts, t - tau, side="left") - 1


def _check(delta: float, tau: float, permutations: int) -> None:
    if not (np.isfinite(delta) and delta >= 0 and np.isfinite(tau) and tau >= 0):
        raise ValueError(f"delta and tau must be finite and >= 0, got {delta}, {tau}")
    if permutations < 0:
        raise ValueError("permutations must be >= 0")


# -- local Knox ---------------------------------------------------------------------------------------------
@dataclass
class LocalKnox:
    """Per event: its pairs close in space (ns), in time (nt) and in both (nst), with a permutation p-value
    (its own time kept, the others shuffled) and pointpats' hypergeometric p-value; the global Knox test."""

    delta: float
    tau: float
    t: np.ndarray
    ns: np.ndarray
    nt: np.ndarray
    nst: np.ndarray
    st_pairs: np.ndarray  # (m, 2), i < j, close in space and in time
    p_sim: np.ndarray | None
    p_hypergeom: np.ndarray
    sims: np.ndarray | None  # n x R local counts under the permutations (keep=True)
    overall: dict[str, Any]
    seconds: float = 0.0

    @property
    def n(self) -> int:
        return len(self.t)

    def p_values(self, inference: str = "permutation") -> np.ndarray:
        if inference == "analytic" or self.p_sim is None:
            return self.p_hypergeom
        if inference != "permutation":
            raise ValueError("inference must be permutation or analytic")
        return self.p_sim

    def chains(self, alpha: float = 0.05, inference: str = "permutation") -> pd.DataFrame:
        """Near-repeat chains: events significant at alpha (the drivers) and their space-time neighbours, one
        row per event, grouped into chains (connected by space-time pairs with at least one driver); chains
        are numbered by their first event in time; `later` / `earlier` count an event's space-time neighbours
        after / before it (a driver with many later ones set a chain off)."""
        p = self.p_values(inference)
        driver = p <= alpha
        edges = self.st_pairs[driver[self.st_pairs[:, 0]] | driver[self.st_pairs[:, 1]]]
        members = np.unique(edges)
        if not len(members):
            return pd.DataFrame(columns=["event", "chain", "time", "driver", "p", "nst", "later", "earlier"])
        graph = sparse.coo_matrix((np.ones(len(edges)), (edges[:, 0], edges[:, 1])), shape=(self.n, self.n))
        _, label = connected_components(graph, directed=False)
        lead = self.t[self.st_pairs[:, 0]] < self.t[self.st_pairs[:, 1]]
        lag = self.t[self.st_pairs[:, 0]] > self.t[self.st_pairs[:, 1]]
        later = np.bincount(self.st_pairs[lead, 0], minlength=self.n) + np.bincount(
            self.st_pairs[lag, 1], minlength=self.n
        )
        earlier = np.bincount(self.st_pairs[lag, 0], minlength=self.n) + np.bincount(
            self.st_pairs[lead, 1], minlength=self.n
        )
        frame = pd.DataFrame(
            {
                "event": members,
                "component": label[members],
                "time": self.t[members],
                "driver": driver[members],
                "p": p[members],
                "nst": self.nst[members],
                "later": later[members],
                "earlier": earlier[members],
            }
        )
        first = frame.groupby("component")["time"].transform("min")
        order = frame.assign(first=first).sort_values(["first", "component", "time", "event"])
        order["chain"] = pd.factorize(order["component"])[0]
        return order[["event", "chain", "time", "driver", "p", "nst", "later", "earlier"]].reset_index(
            drop=True
        )

    def as_dict(self, alpha: float = 0.05, inference: str = "permutation") -> dict[str, Any]:
        chains = self.chains(alpha, inference)
        p = self.p_values(inference)
        return {
            **self.overall,
            "alpha": alpha,
            "inference": inference if self.p_sim is not None else "analytic",
            "events_in_pairs": int((self.nst > 0).sum()),
            "drivers": int((p <= alpha).sum()),
            "chains": int(chains["chain"].nunique()) if len(chains) else 0,
            "chain_events": chains.to_dict("records"),
            "seconds": round(self.seconds, 3),
        }


def _local_counts(
    order: np.ndarray, src: np.ndarray, dst: np.ndarray, t: np.ndarray, tau: float
) -> np.ndarray:
    """Space-time pairs of each event under a permutation that keeps the event's own time: event src sees its
    space neighbour dst carry the time of order[dst], except that the one event given src's time gives it
    back (pointpats' swap: the permutation with src fixed)."""
    n = len(order)
    position = np.empty(n, dtype=np.int64)
    position[order] = np.arange(n)
    label = order[dst]
    swapped = dst == position[src]
    label[swapped] = order[src[swapped]]
    close = np.abs(t[label] - t[src]) <= tau
    return np.bincount(src[close], minlength=n)


def _p_hypergeom(nst: np.ndarray, ns: np.ndarray, nt: np.ndarray) -> np.ndarray:
    """pointpats' analytic p-value: 1 - the mean over every event j of hypergeom.cdf(nst_i - 1, n - 1, nt_j,
    ns_i), computed once per distinct (nst_i, ns_i) and distinct nt_j."""
    n = len(nst)
    values, counts = np.unique(nt, return_counts=True)
    keys, inverse = np.unique(np.column_stack([nst, ns]), axis=0, return_inverse=True)
    cdf = hypergeom.cdf(keys[:, :1] - 1, n - 1, values[None, :], keys[:, 1:])
    return 1 - (cdf @ (counts / n))[inverse.ravel()]


def local_knox(
    xy: Any,
    t: Any,
    *,
    delta: float,
    tau: float,
    permutations: int = 99,
    seed: Seed = None,
    keep: bool = False,
    metric: str = "euclidean",
    workers: int = 2,
) -> LocalKnox:
    """Local Knox statistics (pointpats.KnoxLocal): the global test's permutations are drawn first, then the
    local ones, from one seed (a numpy RandomState reproduces pointpats under np.random.seed)."""
    started = time.perf_counter()
    xy, t = check_points(xy, t)
    check_options("right", metric)
    _check(delta, tau, permutations)
    n = len(t)
    pairs = close_in_space(xy, delta, metric)
    close_in_time = np.abs(t[pairs[:, 0]] - t[pairs[:, 1]]) <= tau
    st = pairs[close_in_time]
    ns = np.bincount(pairs.ravel(), minlength=n)
    nt = time_neighbours(t, tau)
    nst = np.bincount(st.ravel(), minlength=n)
    order = permutation_source(n, 2 * permutations, seed)
    overall = _global(pairs, t, nt, tau, permutations, order, workers)
    overall.update(delta=delta, tau=tau, distance=metric, seed=seed_label(seed))
    p_sim = sims = None
    if permutations:
        src, dst = np.concatenate([pairs[:, 0], pairs[:, 1]]), np.concatenate([pairs[:, 1], pairs[:, 0]])
        counts = run_permutations(
            lambda o: _local_counts(o, src, dst, t, tau),
            order,
            range(permutations, 2 * permutations),
            workers,
        )
        local = np.column_stack(counts)
        p_sim = ((local >= nst[:, None]).sum(axis=1) + 1) / (permutations + 1)
        sims = local if keep else None
    result = LocalKnox(delta, tau, t, ns, nt, nst, st, p_sim, _p_hypergeom(nst, ns, nt), sims, overall)
    result.seconds = time.perf_counter() - started
    return result


def _global(
    pairs: np.ndarray, t: np.ndarray, nt: np.ndarray, tau: float, permutations: int, order: Any, workers: int
) -> dict[str, Any]:
    """The global Knox test on the same pairs (pointpats.Knox: NS, NT, NST, expected, Poisson and permutation p)."""
    n = len(t)
    all_pairs = n * (n - 1) // 2
    ns_total, nt_total = len(pairs), int(nt.sum() // 2)
    nst = _st_count(pairs, t, tau)
    expected = ns_total * nt_total / all_pairs if all_pairs else 0.0
    out: dict[str, Any] = {
        "n": n,
        "pairs": all_pairs,
        "ns": ns_total,
        "nt": nt_total,
        "nst": nst,
        "expected": expected,
        "p_poisson": float(1 - poisson.cdf(nst, expected)),
        "permutations": permutations,
    }
    if permutations:
        sims = run_permutations(lambda o: _st_count(pairs, t[o], tau), order, range(permutations), workers)
        out["p_sim"] = _p_sim(np.array(sims), nst)
    return out


def _st_count(pairs: np.ndarray, t: np.ndarray, tau: float) -> int:
    return int(np.count_nonzero(np.abs(t[pairs[:, 0]] - t[pairs[:, 1]]) <= tau))


# -- modified Knox (Baker 2004) -----------------------------------------------------------------------------
def modified_knox(
    xy: Any,
    t: Any,
    *,
    delta: float,
    tau: float,
    permutations: int = 99,
    seed: Seed = None,
    metric: str = "euclidean",
    workers: int = 2,
) -> dict[str, Any]:
    """Baker's modified Knox statistic (pointpats.modified_knox): pairs close in space and time minus what the
    events' own numbers of neighbours predict, (2 NST - sum_i ns_i nt_i / (n - 1)) / 2, with a permutation
    test (event i takes the time of event order[i], and its number of time neighbours with it)."""
    started = time.perf_counter()
    xy, t = check_points(xy, t)
    check_options("right", metric)
    _check(delta, tau, permutations)
    n = len(t)
    pairs = close_in_space(xy, delta, metric)
    ns = np.bincount(pairs.ravel(), minlength=n).astype(float)
    nt = time_neighbours(t, tau).astype(float)

    def statistic(order: np.ndarray) -> float:
        return (2.0 * _st_count(pairs, t[order], tau) - float(ns @ nt[order]) / (n - 1.0)) / 2.0

    result = _permutation_test(statistic, n, permutations, seed, workers)
    return {
        "n": n,
        "delta": delta,
        "tau": tau,
        "distance": metric,
        "nst": _st_count(pairs, t, tau),
        "expected_from_neighbours": float(ns @ nt) / (2.0 * (n - 1.0)),
        **result,
        "seconds": round(time.perf_counter() - started, 3),
    }


def _permutation_test(statistic: Any, n: int, permutations: int, seed: Seed, workers: int) -> dict[str, Any]:
    """The statistic of the observed times (order = identity) and its permutation p-value."""
    stat = statistic(np.arange(n))
    sims = np.array(
        run_permutations(statistic, permutation_source(n, permutations, seed), range(permutations), workers)
    )
    return {
        "stat": stat,
        "expected": float(sims.mean()) if permutations else None,
        "permutations": permutations,
        "seed": seed_label(seed),
        "p_sim": _p_sim(sims, stat) if permutations else None,
    }


# -- Jacquez k nearest neighbours (1996) --------------------------------------------------------------------
def nearest_neighbours(points: np.ndarray, k: int, metric: str = "euclidean") -> np.ndarray:
    """n x k nearest others of each point as libpysal's KNN finds them (scipy's KD-tree, leaf size 10, k + 1
    asked and the point itself dropped, or the farthest when duplicates crowd the point out)."""
    n = len(points)
    _, found = cKDTree(points, leafsize=10).query(points, k=k + 1, p=1 if metric == "manhattan" else 2)
    others = found != np.arange(n)[:, None]
    others[others.sum(axis=1) == k + 1, -1] = False
    return found[others].reshape(n, k)


def _shared(a: np.ndarray, b: np.ndarray) -> int:
    """Sum over rows of how many entries two n x k neighbour lists share."""
    return int((a[:, :, None] == b[:, None, :]).sum())


def jacquez(
    xy: Any,
    t: Any,
    *,
    k: int = 3,
    permutations: int = 99,
    seed: Seed = None,
    metric: str = "euclidean",
    workers: int = 2,
) -> dict[str, Any]:
    """Jacquez's k-NN test (pointpats.jacquez): how many of each event's k nearest neighbours in space are also
    among its k nearest in time, against permutations of the times."""
    started = time.perf_counter()
    xy, t = check_points(xy, t)
    check_options("right", metric)
    n = len(t)
    if not 1 <= k < n:
        raise ValueError(f"k must be between 1 and n - 1 = {n - 1}, got {k}")
    if permutations < 0:
        raise ValueError("permutations must be >= 0")
    in_space = nearest_neighbours(xy, k, metric)

    def statistic(order: np.ndarray) -> int:
        return _shared(in_space, nearest_neighbours(t[order][:, None], k))

    result = _permutation_test(statistic, n, permutations, seed, workers)
    return {"n": n, "k": k, "distance": metric, **result, "seconds": round(time.perf_counter() - started, 3)}


# -- Mantel (1967), standardised ----------------------------------------------------------------------------
def _row_blocks(n: int, parts: int) -> list[range]:
    """Rows 1 .. n-1 of the lower triangle in `parts` ranges holding about as many pairs each (row r has r)."""
    cumulative = np.cumsum(np.arange(n))
    cuts = np.searchsorted(cumulative, np.linspace(0, cumulative[-1], parts + 1)[1:-1])
    bounds = [1, *sorted(set(int(c) for c in cuts) - {0, 1}), n]
    return [range(a, b) for a, b in itertools.pairwise(bounds) if b > a]


@dataclass
class _Terms:
    """The Mantel test's two terms of a pair: (distance + scon) ** spow and (|dt| + tcon) ** tpow; whole days
    read the time term from a table indexed by |dt| (no power per pair). Pairs are taken a row of the lower
    triangle at a time, (i, j < i), under every order of the times at once: the pairs' times are then
    contiguous slices, not gathers (Chicago Jan-Mar 2014, 99 permutations: 0.88 cpu s against 3.3 s)."""

    xy: np.ndarray
    times: np.ndarray  # (orders, n): the observed times (compact_times), then each permutation of them
    scon: float
    spow: float
    tcon: float
    tpow: float
    metric: str

    def __post_init__(self) -> None:
        whole = self.times.dtype.kind == "i"
        with np.errstate(divide="ignore", invalid="ignore"):  # 0 ** -1: refused by mantel(), with a reason
            self.table = (np.arange(int(self.times.max()) + 1) + self.tcon) ** self.tpow if whole else None

    def space(self, row: int) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            return (distances(self.xy[row : row + 1], self.xy[:row], self.metric) + self.scon) ** self.spow

    def time(self, row: int, orders: slice = slice(None)) -> np.ndarray:
        """(orders, row): the time term of the pairs (row, j < row) under each order of the times."""
        times = self.times[orders]
        dt = np.abs(times[:, :row] - times[:, row : row + 1])
        if self.table is not None:
            return self.table[dt]
        with np.errstate(divide="ignore", invalid="ignore"):
            return (dt + self.tcon) ** self.tpow


def mantel(
    xy: Any,
    t: Any,
    *,
    permutations: int = 99,
    seed: Seed = None,
    scon: float = 1.0,
    spow: float = -1.0,
    tcon: float = 1.0,
    tpow: float = -1.0,
    metric: str = "euclidean",
    workers: int = 2,
) -> dict[str, Any]:
    """The standardised Mantel test (pointpats.mantel): the Pearson correlation over all pairs between
    (distance + scon) ** spow and (|dt| + tcon) ** tpow, against permutations of the times. No n x n matrix:
    pass 1 takes the means of both terms, pass 2 the centred cross products under every order of the times."""
    started = time.perf_counter()
    xy, t = check_points(xy, t)
    check_options("right", metric)
    if permutations < 0:
        raise ValueError("permutations must be >= 0")
    n = len(t)
    if n < 3:
        raise ValueError("the Mantel test needs at least 3 events")
    tc = compact_times(t)
    source = permutation_source(n, permutations, seed)
    terms = _Terms(
        xy, np.stack([tc] + [tc[source(k)] for k in range(permutations)]), scon, spow, tcon, tpow, metric
    )
    blocks = _row_blocks(
        n, MANTEL_PARTS
    )  # not tied to workers: the sums add up in one order whatever the threads
    firsts = threaded(lambda rows: _mantel_sums(rows, terms), blocks, workers)
    pairs = n * (n - 1) / 2
    s_mean, t_mean = sum(f[0] for f in firsts) / pairs, sum(f[1] for f in firsts) / pairs
    if not (np.isfinite(s_mean) and np.isfinite(t_mean)):
        raise ValueError(
            "a distance term is not finite (events at one place or time with a constant of 0 and a negative "
            "power?): choose other constants"
        )
    parts = threaded(lambda rows: _mantel_cross(rows, terms, s_mean, t_mean), blocks, workers)
    cross = np.sum([p[0] for p in parts], axis=0)
    s_ss, t_ss = sum(p[1] for p in parts), sum(p[2] for p in parts)
    if s_ss == 0 or t_ss == 0:
        raise ValueError("a distance term is constant over all pairs: the correlation is not defined")
    r = cross / np.sqrt(s_ss * t_ss)
    return {
        "n": n,
        "distance": metric,
        "stat": float(r[0]),
        "scon": scon,
        "spow": spow,
        "tcon": tcon,
        "tpow": tpow,
        "permutations": permutations,
        "seed": seed_label(seed),
        "p_sim": _p_sim(r[1:], r[0]) if permutations else None,
        "seconds": round(time.perf_counter() - started, 3),
    }


def _mantel_sums(rows: range, terms: _Terms) -> tuple[float, float]:
    """Sums of the space term and of the (observed) time term over the pairs of these rows."""
    space = sum(float(terms.space(r).sum()) for r in rows)
    return space, sum(float(terms.time(r, slice(0, 1)).sum()) for r in rows)


def _mantel_cross(
    rows: range, terms: _Terms, s_mean: float, t_mean: float
) -> tuple[np.ndarray, float, float]:
    """Over the pairs of these rows: the time term under each order x the centred space term (centring one
    side centres the product), and the centred sums of squares of both terms (permuting leaves them alike)."""
    cross, s_ss, t_ss = np.zeros(len(terms.times)), 0.0, 0.0
    for r in rows:
        s = terms.space(r) - s_mean
        a = terms.time(r)
        cross += a @ s
        s_ss += float(s @ s)
        observed = a[0] - t_mean
        t_ss += float(observed @ observed)
    return cross, s_ss, t_ss
