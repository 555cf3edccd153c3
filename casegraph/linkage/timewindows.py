"""Time differences between incidents whose occurrence is only known to lie in a window [from, to].

Each occurrence is taken as uniform over its window, as in Porter's crimelinkage (expected absolute
difference). All functions are vectorised over numpy arrays of pairs.
"""

from __future__ import annotations

import numpy as np

# Two-point Gauss-Legendre rule: exact for polynomials up to degree 3 and never evaluated at a segment end,
# so it stays exact where a zero-width window makes a distribution function jump.
_GAUSS = (0.5 - 0.5 / np.sqrt(3.0), 0.5 + 0.5 / np.sqrt(3.0))


def _cdf(t: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    width = hi - lo
    with np.errstate(divide="ignore", invalid="ignore"):
        ramp = np.clip((t - lo) / width, 0.0, 1.0)
    return np.where(width > 0, ramp, (t >= lo).astype(float))


def expected_abs_diff(a_lo: np.ndarray, a_hi: np.ndarray, b_lo: np.ndarray, b_hi: np.ndarray) -> np.ndarray:
    """E|X - Y| for independent X ~ U[a_lo, a_hi], Y ~ U[b_lo, b_hi] (zero-width windows are exact times).

    E|X-Y| = integral of F_X (1 - F_Y) + F_Y (1 - F_X). Between consecutive window ends both distribution
    functions are linear, so the integrand is quadratic there and the Gauss rule integrates it exactly.
    """
    # Windows that do not overlap (the common case) need no integral: E|X - Y| = |mean X - mean Y|.
    total = np.abs((a_lo + a_hi) / 2.0 - (b_lo + b_hi) / 2.0)
    overlap = (a_lo < b_hi) & (b_lo < a_hi)
    if overlap.any():
        total[overlap] = _overlapping(a_lo[overlap], a_hi[overlap], b_lo[overlap], b_hi[overlap])
    return total


def _overlapping(a_lo: np.ndarray, a_hi: np.ndarray, b_lo: np.ndarray, b_hi: np.ndarray) -> np.ndarray:
    ends = np.sort(np.stack([a_lo, a_hi, b_lo, b_hi], axis=-1), axis=-1)
    total = np.zeros(np.shape(a_lo))
    for k in range(3):
        left, right = ends[..., k], ends[..., k + 1]
        for w in _GAUSS:
            t = left + w * (right - left)
            fa, fb = _cdf(t, a_lo, a_hi), _cdf(t, b_lo, b_hi)
            total += 0.5 * (right - left) * (fa * (1 - fb) + fb * (1 - fa))
    return total


def cycle_moments(lo: np.ndarray, hi: np.ndarray, period: float) -> np.ndarray:
    """First circular moment E[exp(i 2 pi T / period)] of T ~ U[lo, hi], as (n, 2) [real, imaginary].

    Its length is sinc(pi w / period) for a window of width w: 1 for an exact time, near 0 for a window
    as long as the period (the time of day is then unknown).
    """
    omega = 2.0 * np.pi / period
    mid, half = (lo + hi) / 2.0, (hi - lo) / 2.0
    z = omega * half
    with np.errstate(divide="ignore", invalid="ignore"):
        length = np.where(z > 1e-12, np.sin(z) / z, 1.0)
    return np.stack(
        [length * np.cos(omega * np.mod(mid, period)), length * np.sin(omega * np.mod(mid, period))], -1
    )


def cycle_gap(a: np.ndarray, b: np.ndarray, period: float) -> np.ndarray:
    """Circular difference from two moment arrays (see cycle_moments), in the period's unit.

    For exact times this is the circular difference itself (acos of cos d). For windows it is the angle of
    the expected similarity E[cos(d)], which moves to period/4 (no information) as the windows widen.
    """
    similarity = np.clip(a[..., 0] * b[..., 0] + a[..., 1] * b[..., 1], -1.0, 1.0)
    return np.arccos(similarity) * period / (2.0 * np.pi)


def circular_diff(t_a: np.ndarray, t_b: np.ndarray, period: float) -> np.ndarray:
    """Exact circular difference between two exact times (reference for tests and explanations)."""
    d = np.mod(t_a - t_b, period)
    return np.minimum(d, period - d)
