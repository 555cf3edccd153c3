"""Random matchings of stubs, the permutation null of the group-tie test (numpy only)."""

from __future__ import annotations

import numpy as np

DENSE_CODES = 50_000_000  # count matches in a dense k*k table while it stays this small


def matched_counts(labels: np.ndarray, k: int, sorted_codes: np.ndarray) -> np.ndarray:
    """Cross-group matches per wanted pair code (min*k + max) when stub 2i is matched with stub 2i+1."""
    x, y = labels[0::2], labels[1::2]
    keep = (x != y) & (x < k) & (y < k)
    lo, hi = np.minimum(x[keep], y[keep]).astype(np.int64), np.maximum(x[keep], y[keep]).astype(np.int64)
    code = lo * k + hi
    if k * k <= DENSE_CODES:
        return np.bincount(code, minlength=k * k)[sorted_codes]
    idx = np.searchsorted(sorted_codes, code)
    idx[idx == len(sorted_codes)] = 0
    hit = sorted_codes[idx] == code
    return np.bincount(idx[hit], minlength=len(sorted_codes))


def separate_groups(labels: np.ndarray, k: int, rng: np.random.Generator, rounds: int = 100) -> None:
    """Re-deal (in place) the partners of pairs that match two stubs of one group (a tie that leaves a group
    cannot come back to it), together with as many random pairs, until none is left. The result is close to
    a uniform random matching without such pairs (exact uniformity would need rejection, hopeless at scale)."""
    x, y = labels[0::2], labels[1::2]  # views: writing y writes labels
    for _ in range(rounds):
        bad = np.flatnonzero((x == y) & (x < k))
        if not len(bad):
            return
        idx = np.unique(np.concatenate([bad, rng.integers(0, len(y), len(bad))]))
        y[idx] = rng.permutation(y[idx])


def permute(
    labels: np.ndarray, k: int, codes: np.ndarray, observed: np.ndarray, n: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Sum of counts and number of counts >= observed over n random matchings (codes sorted). The labels
    are shuffled in place: a shuffle of a shuffle is as uniform as a shuffle, and copying costs time."""
    labels = labels.copy()
    total, exceed = np.zeros(len(codes)), np.zeros(len(codes), np.int64)
    for _ in range(n):
        rng.shuffle(labels)
        separate_groups(labels, k, rng)
        counts = matched_counts(labels, k, codes)
        total += counts
        exceed += counts >= observed
    return total, exceed
