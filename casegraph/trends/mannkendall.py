"""Mann-Kendall trend test, vectorised over many series at once (one row per series).

Gives the same S, Var(S) (with the tie correction), continuity-corrected z, two-sided p, Kendall's tau
(S / (n(n-1)/2)) and Sen's slope as pymannkendall.original_test, but for thousands of series in a few
numpy passes instead of a Python loop per series.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.stats import norm

ROWS_PER_PASS = 4096  # series per block when pairwise slopes are materialised


@dataclass
class MannKendall:
    """Per series (arrays of length m): S, Var(S), z, p, tau, trend (-1, 0, +1 at `alpha`) and Sen's slope."""

    s: np.ndarray
    var_s: np.ndarray
    z: np.ndarray
    p: np.ndarray
    tau: np.ndarray
    trend: np.ndarray
    slope: np.ndarray | None
    intercept: np.ndarray | None
    alpha: float

    def row(self, k: int) -> dict[str, Any]:
        trend = {1: "increasing", -1: "decreasing", 0: "no trend"}[int(self.trend[k])]
        out = {
            "s": float(self.s[k]),
            "var_s": float(self.var_s[k]),
            "z": float(self.z[k]),
            "p": float(self.p[k]),
            "tau": float(self.tau[k]),
            "trend": trend,
        }
        if self.slope is not None and self.intercept is not None:
            out.update(slope=float(self.slope[k]), intercept=float(self.intercept[k]))
        return out


def _as_rows(y: Any) -> np.ndarray:
    arr = np.asarray(y, dtype=float)
    arr = arr[None, :] if arr.ndim == 1 else arr
    if arr.ndim != 2:
        raise ValueError("series must be a 1-d array or a 2-d array with one series per row")
    if not np.all(np.isfinite(arr)):
        raise ValueError("series must have no missing values (fill or drop them first)")
    return arr


def mk_score(y: np.ndarray) -> np.ndarray:
    """S = sum over i < j of sign(y_j - y_i), per row."""
    s = np.zeros(len(y))
    for lag in range(1, y.shape[1]):
        s += np.sign(y[:, lag:] - y[:, :-lag]).sum(axis=1)
    return s


def tie_term(y: np.ndarray) -> np.ndarray:
    """Sum over groups of tied values of t(t-1)(2t+5), per row."""
    m, n = y.shape
    if n == 0:
        return np.zeros(m)
    ys = np.sort(y, axis=1)
    starts = np.ones_like(ys, dtype=bool)
    starts[:, 1:] = ys[:, 1:] != ys[:, :-1]
    flat = np.flatnonzero(starts.ravel())
    lengths = np.diff(np.append(flat, m * n)).astype(float)
    return np.bincount(flat // n, weights=lengths * (lengths - 1) * (2 * lengths + 5), minlength=m)


def sens_slope(y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Median of pairwise slopes (y_j - y_i) / (j - i), and the intercept median(y) - median(index) * slope."""
    m, n = y.shape
    i, j = np.triu_indices(n, k=1)
    slope = np.full(m, np.nan)
    for start in range(0, m, ROWS_PER_PASS):
        block = y[start : start + ROWS_PER_PASS]
        if len(i):
            slope[start : start + ROWS_PER_PASS] = np.median((block[:, j] - block[:, i]) / (j - i), axis=1)
    intercept = np.median(y, axis=1) - np.median(np.arange(n)) * slope
    return slope, intercept


def mann_kendall(y: Any, *, alpha: float = 0.05, slope: bool = False) -> MannKendall:
    """The Mann-Kendall test of each row of `y` (or of one 1-d series)."""
    rows = _as_rows(y)
    n = rows.shape[1]
    s = mk_score(rows)
    var_s = (n * (n - 1) * (2 * n + 5) - tie_term(rows)) / 18.0
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(s > 0, (s - 1) / np.sqrt(var_s), np.where(s < 0, (s + 1) / np.sqrt(var_s), 0.0))
    z = np.nan_to_num(z, nan=0.0)
    p = 2 * norm.sf(np.abs(z))
    pairs = 0.5 * n * (n - 1)
    tau = s / pairs if pairs else np.zeros_like(s)
    significant = np.abs(z) > norm.ppf(1 - alpha / 2)
    trend = np.where(significant, np.sign(z), 0).astype(np.int8)
    sl, ic = sens_slope(rows) if slope else (None, None)
    return MannKendall(s, var_s, z, p, tau, trend, sl, ic, alpha)
