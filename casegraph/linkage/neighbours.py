"""Nearest-neighbour blocking: each incident's k nearest incidents in space and time.

The axes are scaled so that one unit is the typical gap between linked incidents: the median distance and
the median time apart of the pairs sharing an offender among the solved incidents (the shipped model's
scales when there are too few), so "near" means near in the way linked incidents are near. Series span
months and whole cities, so a fixed window either loses them or swamps the dense areas; a neighbour list
is as long in a quiet suburb as in the centre. The search is an exact k-d tree (scikit-learn) over three
dimensions, a few seconds at a million incidents. Incidents without a place are searched by time alone.
The queries run in chunks on several threads (the trees release the GIL while they search).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
from joblib import Parallel, delayed
from sklearn.neighbors import KDTree

from casegraph.linkage.encode import Encoded

QUERY_CHUNK = 100_000
MIN_LINKED_FOR_SCALES = 20


@dataclass(frozen=True)
class Scales:
    """One unit of each embedding axis: metres of distance and days apart (medians over linked pairs)."""

    metres: float
    days: float
    source: str = "default"

    def as_dict(self) -> dict[str, float | str]:
        return {"metres": round(self.metres, 4), "days": round(self.days, 3), "source": self.source}


# The synthetic city's linked pairs (median 770 m, 7.9 days apart); replaced by the shipped model's scales.
FALLBACK = Scales(770.0, 7.9, "fallback")


def linked_scales(
    encoded: Encoded, i: np.ndarray, j: np.ndarray, default: Scales, horizon_days: float
) -> Scales:
    """Median distance and time apart of the linked pairs (i, j) within `horizon_days` (all of them when
    fewer than 20 are); `default` when there are too few. The horizon keeps a prolific offender's years of
    pairs (quadratic in their count) from setting the scale of a series alone."""
    if len(i) < MIN_LINKED_FOR_SCALES:
        return default
    mid = midpoints(encoded)
    days = np.abs(mid[i] - mid[j]) / 24.0
    near = days <= horizon_days if horizon_days else np.ones(len(days), bool)
    if near.sum() >= MIN_LINKED_FOR_SCALES:
        i, j, days = i[near], j[near], days[near]
    metres = default.metres
    if "x" in encoded.columns:
        x, y = encoded["x"], encoded["y"]
        d = np.hypot(x[i] - x[j], y[i] - y[j])
        if np.isfinite(d).sum() >= MIN_LINKED_FOR_SCALES:
            metres = float(np.nanmedian(d))
    # A zero median (many same-place or same-day pairs) would make the axis infinitely long.
    return Scales(
        max(metres, 1e-6 * max(1.0, default.metres)), max(float(np.median(days)), 0.05), "solved incidents"
    )


def midpoints(encoded: Encoded) -> np.ndarray:
    return (encoded["t_lo"] + encoded["t_hi"]) / 2.0


def embed(encoded: Encoded, scales: Scales) -> tuple[np.ndarray, np.ndarray]:
    """(n, 3) points [x, y, t] in scaled units, and which rows have a place (the others use t alone)."""
    t = midpoints(encoded) / 24.0 / scales.days
    if "x" not in encoded.columns:
        return np.column_stack([np.zeros_like(t), np.zeros_like(t), t]), np.zeros(len(t), bool)
    x, y = encoded["x"] / scales.metres, encoded["y"] / scales.metres
    placed = np.isfinite(x) & np.isfinite(y)
    return np.column_stack([np.where(placed, x, 0.0), np.where(placed, y, 0.0), t]), placed


@dataclass
class NeighbourIndex:
    """k-d trees over the embedded incidents: one over all, one per offence family (rows = index rows)."""

    points: np.ndarray
    placed: np.ndarray
    families: np.ndarray
    trees: dict[tuple[str, bool], tuple[KDTree, np.ndarray]]

    @classmethod
    def build(cls, points: np.ndarray, placed: np.ndarray, families: np.ndarray) -> NeighbourIndex:
        trees = {}
        for family in ["", *np.unique(families).tolist()]:
            members = np.ones(len(points), bool) if family == "" else families == family
            for has_place in (True, False):
                rows = np.flatnonzero(members & (placed if has_place else True))
                if len(rows) > 1:
                    dims = slice(0, 3) if has_place else slice(2, 3)
                    trees[(family, has_place)] = (KDTree(points[rows, dims]), rows)
        return cls(points, placed, families, trees)

    def query(self, point: np.ndarray, placed: bool, family: str, k: int) -> np.ndarray:
        """Index rows of the k nearest incidents to one point: across families and within its family."""
        found = []
        for key in (("", placed), (family, placed)):
            if key in self.trees:
                tree, rows = self.trees[key]
                dims = slice(0, 3) if placed else slice(2, 3)
                idx = tree.query(point[None, dims], k=min(k + 1, len(rows)), return_distance=False)
                found.append(rows[idx.ravel()])
        return np.unique(np.concatenate(found)) if found else np.zeros(0, np.int64)

    def pairs(
        self, k: int, *, threads: int = 1, then: Callable[[np.ndarray, np.ndarray], Any] | None = None
    ) -> Iterator[Any]:
        """(i, j) for every incident i and each of its k nearest j, within its family and across families, one
        chunk of queries at a time; with `then`, then(i, j) of each chunk instead, computed on the same
        thread as the search. Chunks come in no fixed order, `threads` of them searched at once."""
        tasks = (delayed(self._search)(*chunk, k, then) for chunk in self._chunks())
        yield from Parallel(n_jobs=threads, prefer="threads", return_as="generator_unordered")(tasks)

    def _chunks(self) -> Iterator[tuple[KDTree, np.ndarray, np.ndarray, slice]]:
        """(tree, its rows, the rows to search for, the dimensions searched) per chunk of queries."""
        for (_, has_place), (tree, members) in self.trees.items():
            # The time-only trees hold every incident; only those without a place are searched in them.
            queries = members if has_place else members[~self.placed[members]]
            dims = slice(0, 3) if has_place else slice(2, 3)
            for start in range(0, len(queries), QUERY_CHUNK):
                yield tree, members, queries[start : start + QUERY_CHUNK], dims

    def _search(
        self,
        tree: KDTree,
        members: np.ndarray,
        rows: np.ndarray,
        dims: slice,
        k: int,
        then: Callable[[np.ndarray, np.ndarray], Any] | None,
    ) -> Any:
        kk = min(k + 1, len(members))
        idx = tree.query(self.points[rows, dims], k=kk, return_distance=False)
        i, j = np.repeat(rows, kk), members[idx.ravel()]
        keep = i != j
        return then(i[keep], j[keep]) if then else (i[keep], j[keep])
