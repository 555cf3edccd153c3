"""Pair features, vectorised: one row per candidate pair (i, j), one column per comparison.

Missing values stay NaN (both models handle them: the gradient-boosted model natively, the Bayes-factor
model as a bin of its own), so "not recorded" is never confused with "different".
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from casegraph.linkage.comparisons import Comparison
from casegraph.linkage.encode import Encoded
from casegraph.linkage.timewindows import cycle_gap, expected_abs_diff

Sides = tuple[Encoded, np.ndarray, Encoded, np.ndarray]


def pair_features(
    left: Encoded, i: np.ndarray, right: Encoded, j: np.ndarray, comparisons: tuple[Comparison, ...]
) -> np.ndarray:
    """Feature matrix (float32) for pairs left[i] x right[j]."""
    out = np.empty((len(i), len(comparisons)), np.float32)
    sides = (left, i, right, j)
    for k, comparison in enumerate(comparisons):
        out[:, k] = KIND_FUNCTIONS[comparison.kind](sides, comparison)
    return out


def _both(sides: Sides, name: str) -> tuple[np.ndarray, np.ndarray] | None:
    left, i, right, j = sides
    if name not in left.columns or name not in right.columns:
        return None
    return left[name][i], right[name][j]


def _nan(sides: Sides) -> np.ndarray:
    return np.full(len(sides[1]), np.nan)


def distance(sides: Sides, c: Comparison) -> np.ndarray:
    xs, ys = _both(sides, "x"), _both(sides, "y")
    if xs is None or ys is None:
        return _nan(sides)
    dx, dy = xs[0] - xs[1], ys[0] - ys[1]
    return np.sqrt(dx * dx + dy * dy)


def relative_distance(sides: Sides, c: Comparison) -> np.ndarray:
    spacing = _both(sides, "spacing")
    if spacing is None:
        return _nan(sides)
    scale = np.sqrt(np.maximum(spacing[0], 1e-6) * np.maximum(spacing[1], 1e-6))
    return distance(sides, c) / scale


def time_gap(sides: Sides, c: Comparison) -> np.ndarray:
    lo, hi = _both(sides, "t_lo"), _both(sides, "t_hi")
    assert lo is not None and hi is not None  # every encoding has the time window
    return expected_abs_diff(lo[0], hi[0], lo[1], hi[1]) / 24.0


def space_time(sides: Sides, c: Comparison) -> np.ndarray:
    return distance(sides, c) * time_gap(sides, c)


def cycle(sides: Sides, c: Comparison) -> np.ndarray:
    moments = _both(sides, f"{c.name}:moment")
    if moments is None:
        return _nan(sides)
    gap = cycle_gap(moments[0].astype(np.float64), moments[1].astype(np.float64), c.period_hours)
    return gap / 24.0 if c.unit == "days" else gap


def same_code(sides: Sides, c: Comparison) -> np.ndarray:
    codes = _both(sides, f"{c.name}:code")
    if codes is None:
        return _nan(sides)
    a, b = codes
    return np.where((a < 0) | (b < 0), np.nan, (a == b).astype(float))


def category(sides: Sides, c: Comparison) -> np.ndarray:
    """0 when the values differ; 1 + surprisal of the shared value when equal (rarer agreement weighs more)."""
    codes, weights = _both(sides, f"{c.name}:code"), _both(sides, f"{c.name}:weight")
    if codes is None or weights is None:
        return _nan(sides)
    a, b = codes
    return np.where((a < 0) | (b < 0), np.nan, np.where(a == b, 1.0 + weights[0], 0.0))


def token_set(sides: Sides, c: Comparison) -> np.ndarray:
    bits = _both(sides, f"{c.name}:bits")
    if bits is None:
        return _nan(sides)
    a, b = bits
    both = np.bitwise_count(a & b).astype(float)
    either = np.bitwise_count(a | b).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where((a == 0) | (b == 0), np.nan, both / either)


def text(sides: Sides, c: Comparison) -> np.ndarray:
    left, i, right, j = sides
    name = f"{c.name}:vec"
    if name not in left.columns or name not in right.columns:
        return _nan(sides)
    a, b = left.float32(name)[i], right.float32(name)[j]
    cosine = np.einsum("ij,ij->i", a, b)
    empty = ~a.any(axis=1) | ~b.any(axis=1)
    return np.where(empty, np.nan, cosine)


def range_gap(sides: Sides, c: Comparison) -> np.ndarray:
    lo, hi = _both(sides, f"{c.name}:lo"), _both(sides, f"{c.name}:hi")
    if lo is None or hi is None:
        return _nan(sides)
    return np.maximum(0.0, np.maximum(lo[1] - hi[0], lo[0] - hi[1]))


def number_gap(sides: Sides, c: Comparison) -> np.ndarray:
    values = _both(sides, f"{c.name}:value")
    if values is None:
        return _nan(sides)
    return np.abs(values[0] - values[1])


KIND_FUNCTIONS: dict[str, Callable[[Sides, Comparison], np.ndarray]] = {
    "distance": distance,
    "relative_distance": relative_distance,
    "time_gap": time_gap,
    "space_time": space_time,
    "cycle_gap": cycle,
    "same_code": same_code,
    "category": category,
    "token_set": token_set,
    "text": text,
    "range_gap": range_gap,
    "number_gap": number_gap,
}
