"""Random matchings of stubs, the permutation null of the group-tie test (numpy only).

A matching pairs stub 2i with stub 2i+1 of a uniformly shuffled list; `separate_groups` then re-deals the
pairs that join two stubs of one group. At ten million ties that shuffle is most of the test's cost, and most
of what it moves is stubs of people without a group, which all look alike. So `permute` draws the same
random matching without them: in a uniform random matching of L labelled and U unlabelled stubs, the number
j of mixed pairs has the law `mixed_pairs_law`, the j labelled stubs that meet unlabelled ones are a uniform
random subset of the labelled ones, and the other labelled stubs are matched uniformly among themselves. The
unlabelled pairs are kept as a count, and `separate_compact` re-deals exactly as `separate_groups` does on
the whole list (its random pairs are drawn among all pairs, the unlabelled ones included).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import gammaln

DENSE_CODES = 50_000_000  # count matches in a dense k*k table while it stays this small
KEY_SHIFT = 16  # shuffle by sorting random keys with the label in the low bits (labels below 2**16)


def matched_counts(x: np.ndarray, y: np.ndarray, k: int, sorted_codes: np.ndarray) -> np.ndarray:
    """Cross-group matches per wanted pair code (min*k + max) when stub x[i] is matched with stub y[i]."""
    keep = (x != y) & (x < k) & (y < k)
    xs, ys = x[keep].astype(np.int64), y[keep].astype(np.int64)
    code = np.minimum(xs, ys) * k + np.maximum(xs, ys)
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


def mixed_pairs_law(labelled: int, unlabelled: int) -> tuple[np.ndarray, np.ndarray]:
    """Values j and cumulative probabilities of the number of labelled-unlabelled pairs in a uniform random
    perfect matching: C(L,j) C(U,j) j! (L-j-1)!! (U-j-1)!! matchings have j, which is proportional to
    2^j / (j! ((L-j)/2)! ((U-j)/2)!)."""
    js = np.arange(labelled % 2, min(labelled, unlabelled) + 1, 2)
    log_w = js * np.log(2.0) - gammaln(js + 1) - gammaln((labelled - js) / 2 + 1)
    log_w -= gammaln((unlabelled - js) / 2 + 1)
    w = np.exp(log_w - log_w.max())
    return js, np.cumsum(w) / w.sum()


def shuffled(labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A uniformly shuffled copy. Sorting random 47-bit keys is three times faster than a Fisher-Yates
    shuffle of millions (equal keys, about one pair in 10^14 draws, would keep their labels' order)."""
    if not len(labels) or labels.max() >= 1 << KEY_SHIFT:
        return rng.permutation(labels)
    keys = rng.integers(0, 1 << 47, len(labels), dtype=np.int64) << KEY_SHIFT
    keys |= labels.astype(np.int64)
    keys.sort()
    return (keys & ((1 << KEY_SHIFT) - 1)).astype(labels.dtype)


@dataclass
class Matching:
    """Pairs x[i]-y[i] holding every labelled stub, and `unlabelled_pairs` more pairs of two unlabelled stubs."""

    x: np.ndarray
    y: np.ndarray
    unlabelled_pairs: int


def draw_matching(
    labelled: np.ndarray,
    k: int,
    law: tuple[np.ndarray, np.ndarray],
    n_unlabelled: int,
    rng: np.random.Generator,
) -> Matching:
    """A uniform random matching of the labelled stubs (labels < k) and n_unlabelled stubs of label k."""
    js, cdf = law
    j = int(js[min(int(np.searchsorted(cdf, rng.random())), len(js) - 1)])
    order = shuffled(labelled, rng)
    mixed, inner = order[:j], order[j:]
    unlabelled_first = rng.random(j) < 0.5  # a mixed pair's unlabelled stub is on either side
    none = np.asarray(k, dtype=labelled.dtype)
    x = np.concatenate([inner[0::2], np.where(unlabelled_first, none, mixed)])
    y = np.concatenate([inner[1::2], np.where(unlabelled_first, mixed, none)])
    return Matching(x, y, (n_unlabelled - j) // 2)


def separate_compact(m: Matching, k: int, rng: np.random.Generator, rounds: int = 100) -> Matching:
    """`separate_groups` on a Matching: the random pairs are drawn among all pairs; an unlabelled pair drawn
    joins the listed pairs with its new partner."""
    x, y, spare = m.x, m.y, m.unlabelled_pairs
    for _ in range(rounds):
        bad = np.flatnonzero((x == y) & (x < k))
        if not len(bad):
            break
        idx = np.unique(np.concatenate([bad, rng.integers(0, len(x) + spare, len(bad))]))
        listed = idx[idx < len(x)]
        n_new = len(idx) - len(listed)
        pool = rng.permutation(np.concatenate([y[listed], np.full(n_new, k, dtype=y.dtype)]))
        y[listed] = pool[: len(listed)]
        if n_new:
            x = np.concatenate([x, np.full(n_new, k, dtype=x.dtype)])
            y = np.concatenate([y, pool[len(listed) :]])
            spare -= n_new
    return Matching(x, y, spare)


def permute(
    labels: np.ndarray, k: int, codes: np.ndarray, observed: np.ndarray, n: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Sum of counts and number of counts >= observed over n random matchings of the stubs `labels` (label k
    = no group) that never pair two stubs of one group (codes sorted)."""
    labelled = labels[labels < k]
    n_unlabelled = len(labels) - len(labelled)
    law = mixed_pairs_law(len(labelled), n_unlabelled)
    total, exceed = np.zeros(len(codes)), np.zeros(len(codes), np.int64)
    for _ in range(n):
        m = separate_compact(draw_matching(labelled, k, law, n_unlabelled, rng), k, rng)
        counts = matched_counts(m.x, m.y, k, codes)
        total += counts
        exceed += counts >= observed
    return total, exceed
