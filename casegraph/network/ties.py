"""Ties between groups, tested against chance.

Statistic: for groups A and B, the number of distinct person ties with one end in A and the other in B.
Null model (configuration): each group keeps its members and its internal ties; every tie that leaves a
group (to another group or to a person with no recorded group) is cut into two stubs, and the stubs are
matched at random, never two stubs of one group with each other (a tie that leaves a group cannot come back
to it: allowing it would shrink every cross-group expectation and make the test anti-conservative, badly so
with few groups). So group sizes, every person's degree and every person's count of outside ties are kept.
Expected A-B ties = w_A w_B, where the stub weights solve w_g (W - w_g) = X_g for each group (its X_g stubs
all end outside it) and w W = X for the stubs of people without a group (W = sum of w); with many small
groups this is X_A X_B / S. The count is close to Poisson (a matching's count has a lighter tail, so the
Poisson p-value is conservative). The permutation version draws such random matchings; both p-values are
reported.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import sparse, stats

from casegraph.network.graphs import NO_GROUP, PersonGraph
from casegraph.network.matching import permute


@dataclass
class Stubs:
    """Outside ties of a labelled graph. Labels are 0..k-1, k = none."""

    k: int
    lu: np.ndarray
    lv: np.ndarray
    outside: np.ndarray
    cross: np.ndarray

    @property
    def per_group(self) -> np.ndarray:
        """X_g for g in 0..k (k = people without a group)."""
        ends = np.concatenate([self.lu[self.outside], self.lv[self.outside]])
        return np.bincount(ends, minlength=self.k + 1)

    @property
    def total(self) -> int:
        return int(2 * self.outside.sum())

    def codes(self) -> np.ndarray:
        """Pair code min*k + max of every cross-group edge (in edge order of `cross`)."""
        lo = np.minimum(self.lu[self.cross], self.lv[self.cross]).astype(np.int64)
        hi = np.maximum(self.lu[self.cross], self.lv[self.cross]).astype(np.int64)
        return lo * self.k + hi


def neighbour_groups(pg: PersonGraph) -> sparse.csr_matrix:
    """n x groups: how many of each person's neighbours are recorded members of each group."""
    u, v = pg.endpoints()
    n, k = pg.graph.vcount(), max(pg.n_groups, 1)
    ends, others = np.concatenate([u, v]), np.concatenate([v, u])
    lab = pg.label[others]
    keep = lab != NO_GROUP
    return sparse.csr_matrix((np.ones(int(keep.sum())), (ends[keep], lab[keep])), shape=(n, k))


def blocks_of(pg: PersonGraph, min_ties: int) -> np.ndarray:
    """Recorded group, or for a person without one the group they are an associate of: at least `min_ties`
    ties to its members and more than half of their ties to recorded members (NO_GROUP otherwise)."""
    block = pg.label.copy()
    if not pg.n_groups or min_ties <= 0:
        return block
    m = neighbour_groups(pg)
    m.sum_duplicates()
    rows = np.repeat(np.arange(m.shape[0]), np.diff(m.indptr))
    order = np.lexsort((-m.data, rows))  # each row's largest count first
    first = m.indptr[:-1][np.diff(m.indptr) > 0]
    has = np.flatnonzero(np.diff(m.indptr) > 0)
    top, best = np.zeros(m.shape[0]), np.zeros(m.shape[0], np.int64)
    top[has], best[has] = m.data[order][first], m.indices[order][first]
    total = np.asarray(m.sum(axis=1)).ravel()
    associate = (pg.label == NO_GROUP) & (top >= min_ties) & (2 * top > total)
    block[associate] = best[associate]
    return block


def stubs_of(pg: PersonGraph, block: np.ndarray | None = None, *, count_block: bool = False) -> Stubs:
    """Outside ties: every tie except those inside one group's block (its members and associates).
    Cross ties join recorded members of two groups (or two blocks, with count_block)."""
    u, v = pg.endpoints()
    k = pg.n_groups
    block = pg.label if block is None else block
    side = block if count_block else pg.label
    lu = np.where(side[u] == NO_GROUP, k, side[u]).astype(np.int32)
    lv = np.where(side[v] == NO_GROUP, k, side[v]).astype(np.int32)
    bu, bv = block[u], block[v]
    outside = ~((bu == bv) & (bu != NO_GROUP))
    cross = outside & (lu < k) & (lv < k) & (lu != lv)
    return Stubs(k, lu, lv, outside, cross)


def stub_weights(x: np.ndarray, k: int, iterations: int = 5_000) -> np.ndarray:
    """w with w_g (W - w_g) = x_g for groups g < k and w_k W = x_k (damped fixed point; see module doc)."""
    x = np.asarray(x, dtype=float)
    total = x.sum()
    if total <= 0:
        return np.zeros(len(x))
    w = x / np.sqrt(total)
    for _ in range(iterations):
        big_w = w.sum()
        new = np.empty_like(w)
        new[:k] = x[:k] / np.maximum(big_w - w[:k], 1e-300)
        new[k:] = x[k:] / big_w
        new = 0.5 * (w + new)
        done = np.abs(new - w).max() <= 1e-10 * big_w
        w = new
        if done:
            break
    return w if np.isfinite(w).all() else x / np.sqrt(total)  # no valid matching: unconstrained weights


def configuration_expected(x: np.ndarray, total: int, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Expected A-B matches when `total` stubs, x[g] of group g (x[k]: people without a group), are matched
    at random with no two stubs of one group matched together."""
    if total < 2:
        return np.zeros(len(a))
    w = stub_weights(x, len(x) - 1)
    return w[a] * w[b]


def poisson_upper(observed: np.ndarray, expected: np.ndarray) -> np.ndarray:
    """P(N >= observed) for N ~ Poisson(expected)."""
    observed = np.asarray(observed, dtype=float)
    return np.where(observed <= 0, 1.0, stats.poisson.sf(observed - 1, np.maximum(expected, 1e-300)))


def benjamini_hochberg(p: np.ndarray, n_tests: int) -> np.ndarray:
    """q-values of p among n_tests tests; the tests not listed have p = 1 (no cross-group tie at all)."""
    p = np.asarray(p, dtype=float)
    if not len(p):
        return p
    n_tests = max(n_tests, len(p))
    order = np.argsort(p)
    ranked = p[order] * n_tests / np.arange(1, len(p) + 1)
    q = np.minimum(1.0, np.minimum.accumulate(ranked[::-1])[::-1])
    out = np.empty_like(q)
    out[order] = q
    return out


def bh_threshold(q: np.ndarray, fdr: float, n_tests: int) -> float:
    """The p-value threshold of Benjamini-Hochberg's step-up rule at `fdr`: R fdr / m with R rejections
    (0 when none). Every rejected p is at or below it."""
    rejected = int((q <= fdr).sum())
    return fdr * rejected / max(n_tests, 1) if rejected else 0.0


def permutation_null(
    stubs: Stubs, wanted: np.ndarray, observed: np.ndarray, n: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Random matchings of the outside stubs: mean count and count >= observed, per wanted pair code."""
    dtype = np.int16 if stubs.k < np.iinfo(np.int16).max else np.int32
    labels = np.concatenate([stubs.lu[stubs.outside], stubs.lv[stubs.outside]]).astype(dtype)
    order = np.argsort(wanted)
    total, exceed = np.zeros(len(wanted)), np.zeros(len(wanted), np.int64)
    if n:
        total[order], exceed[order] = permute(labels, stubs.k, wanted[order], observed[order], n, rng)
    return total / max(n, 1), exceed


def persons_per_side(
    stubs: Stubs, u: np.ndarray, v: np.ndarray, codes: np.ndarray, uniq: np.ndarray
) -> tuple:
    """Distinct people of the lower and of the higher group in each pair's cross ties."""
    cu, cv = u[stubs.cross], v[stubs.cross]
    lower_is_u = stubs.lu[stubs.cross] < stubs.lv[stubs.cross]
    side_a, side_b = np.where(lower_is_u, cu, cv), np.where(lower_is_u, cv, cu)
    pos = np.searchsorted(uniq, codes)
    n = int(max(u.max(initial=0), v.max(initial=0))) + 1

    def distinct(side: np.ndarray) -> np.ndarray:
        combos = np.unique(pos.astype(np.int64) * n + side)
        return np.bincount(combos // n, minlength=len(uniq))

    return distinct(side_a), distinct(side_b)


@dataclass
class TieParams:
    null_model: str = "configuration"
    n_permutations: int = 99
    fdr: float = 0.05
    min_persons_per_side: int = 2
    associate_min_ties: int = 2
    count_associates: bool = False
    seed: int = 7

    def blocks(self, pg: PersonGraph) -> np.ndarray:
        """Recorded groups with their associates (computed once per graph)."""
        key = (id(pg), self.associate_min_ties)
        if getattr(self, "_blocks_key", None) != key:
            self._blocks_key, self._blocks = key, blocks_of(pg, self.associate_min_ties)
        return self._blocks

    def stubs(self, pg: PersonGraph) -> Stubs:
        return stubs_of(pg, self.blocks(pg), count_block=self.count_associates)

    def sides(self, pg: PersonGraph) -> np.ndarray:
        """Each person's group as counted in ties: recorded, or the block when associates count."""
        return self.blocks(pg) if self.count_associates else pg.label


def group_ties(pg: PersonGraph, params: TieParams) -> tuple[pd.DataFrame, dict]:
    """One row per pair of groups with at least one cross tie; and the test's summary (tests, cutoff ...)."""
    stubs = params.stubs(pg)
    u, v = pg.endpoints()
    codes = stubs.codes()
    uniq, observed = np.unique(codes, return_counts=True)
    a, b = (uniq // max(stubs.k, 1)).astype(np.int64), (uniq % max(stubs.k, 1)).astype(np.int64)
    x, total = stubs.per_group, stubs.total
    expected = configuration_expected(x, total, a, b)
    p_conf = poisson_upper(observed, expected)
    rng = np.random.default_rng(params.seed)
    n_perm = params.n_permutations if len(uniq) else 0
    mean_perm, exceed = permutation_null(stubs, uniq, observed, n_perm, rng)
    p_perm = (1.0 + exceed) / (1.0 + n_perm) if n_perm else np.full(len(uniq), np.nan)
    p = p_perm if params.null_model == "permutation" and n_perm else p_conf
    n_tests = stubs.k * (stubs.k - 1) // 2
    q = benjamini_hochberg(p, n_tests)
    pa, pb = persons_per_side(stubs, u, v, codes, uniq)
    strength = np.bincount(np.searchsorted(uniq, codes), weights=pg.weight[stubs.cross], minlength=len(uniq))
    enough = (pa >= params.min_persons_per_side) & (pb >= params.min_persons_per_side)
    frame = pd.DataFrame(
        {
            "a": a,
            "b": b,
            "group_a": [pg.groups[i] for i in a],
            "group_b": [pg.groups[i] for i in b],
            "person_ties": observed,
            "persons_a": pa,
            "persons_b": pb,
            "strength": strength,
            "expected": expected,
            "ratio": observed / np.maximum(expected, 1e-12),
            "p_value": p,
            "p_configuration": p_conf,
            "p_permutation": p_perm,
            "expected_permutation": mean_perm,
            "n_permutations": n_perm,
            "q_value": q,
            "significant": (q <= params.fdr) & enough,
        }
    )
    summary = {
        "tests": n_tests,
        "outside_stubs": total,
        "cross_ties": int(stubs.cross.sum()),
        "p_threshold": bh_threshold(q, params.fdr, n_tests),
        "null_model": params.null_model,
        "n_permutations": n_perm,
        "smallest_permutation_p": 1.0 / (1 + n_perm),
    }
    return frame.sort_values(["significant", "q_value", "ratio"], ascending=[False, True, False]), summary
