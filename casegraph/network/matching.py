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


def permute(
    labels: np.ndarray, k: int, codes: np.ndarray, observed: np.ndarray, n: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Sum of counts and number of counts >= observed over n random matchings (codes sorted). The labels
    are shuffled in place: a shuffle of a shuffle is as uniform as a shuffle, and copying costs time."""
    labels = labels.copy()
    total, exceed = np.zeros(len(codes)), np.zeros(len(codes), np.int64)
    for _ in range(n):
        rng.shuffle(labels)
        counts = matched_counts(labels, k, codes)
        total += counts
        exceed += counts >= observed
    return total, exceed
