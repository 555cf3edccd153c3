"""Change points in a series of counts: PELT with a Poisson cost (vectorised over the candidate set).

`ruptures` has no Poisson cost, so it is written here. The cost of a segment with sum S over m periods is
twice its negative Poisson log-likelihood at the fitted rate S/m (dropping log y! terms, which cancel):
    C = 2 * (S - S * log(S / m)),   with 0 * log 0 = 0.
PELT (Killick, Fearnhead & Eckley 2012) finds the segmentation minimising total cost + penalty per change;
this cost satisfies C(a,b) + C(b,c) <= C(a,c), so pruning with K = 0 keeps the exact optimum.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Segment:
    start: int  # first period (inclusive)
    stop: int  # last period + 1
    total: float
    rate: float  # mean count per period

    def as_dict(self) -> dict[str, Any]:
        return {"start": self.start, "stop": self.stop, "total": self.total, "rate": self.rate}


def poisson_cost(cumsum: np.ndarray, starts: np.ndarray, stop: int) -> np.ndarray:
    """Cost of the segments [start, stop) for many starts at once."""
    total = cumsum[stop] - cumsum[starts]
    length = stop - starts
    with np.errstate(divide="ignore", invalid="ignore"):
        loglik = np.where(total > 0, total * np.log(total / length), 0.0)
    return 2.0 * (total - loglik)


def default_penalty(n: int) -> float:
    """BIC-like: a change adds a location and a rate, 2 * log(n) on the -2 log-likelihood scale."""
    return 2.0 * float(np.log(max(n, 2)))


def pelt_poisson(counts: Any, *, penalty: float | None = None, min_size: int = 2) -> list[int]:
    """Indices where a new segment starts (sorted, excluding 0), for a series of non-negative counts."""
    y = np.asarray(counts, dtype=float).ravel()
    n = len(y)
    if np.any(y < 0) or not np.all(np.isfinite(y)):
        raise ValueError("counts must be finite and non-negative")
    if n < 2 * min_size:
        return []
    beta = default_penalty(n) if penalty is None else float(penalty)
    cumsum = np.concatenate([[0.0], np.cumsum(y)])
    best = np.full(n + 1, np.inf)
    best[0] = -beta
    last = np.zeros(n + 1, dtype=np.int64)
    candidates = np.array([0], dtype=np.int64)
    for stop in range(min_size, n + 1):
        usable = candidates[stop - candidates >= min_size]
        if len(usable) == 0:
            continue
        total = best[usable] + poisson_cost(cumsum, usable, stop)
        k = int(np.argmin(total + beta))
        best[stop], last[stop] = total[k] + beta, usable[k]
        keep = (best[usable] + poisson_cost(cumsum, usable, stop)) <= best[stop]
        candidates = np.concatenate([candidates[stop - candidates < min_size], usable[keep], [stop]])
    return _backtrack(last, n)


def _backtrack(last: np.ndarray, n: int) -> list[int]:
    cps, stop = [], n
    while stop > 0:
        stop = int(last[stop])
        if stop > 0:
            cps.append(stop)
    return sorted(cps)


def segments(counts: Any, change_points: list[int]) -> list[Segment]:
    """The segments between change points with their totals and rates."""
    y = np.asarray(counts, dtype=float).ravel()
    bounds = [0, *change_points, len(y)]
    out = []
    for a, b in itertools.pairwise(bounds):
        total = float(y[a:b].sum())
        out.append(Segment(a, b, total, total / (b - a)))
    return out
