"""Projected x/y in metres from lat/lon (pyproj), so distances in later stages are true metres."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from pyproj import Transformer


def utm_crs(lat: float, lon: float) -> str:
    zone = int((lon + 180) // 6) + 1
    return f"EPSG:{32600 + zone if lat >= 0 else 32700 + zone}"


def choose_crs(lat: np.ndarray, lon: np.ndarray, setting: str) -> str | None:
    """'auto' picks the UTM zone of the batch's median point; None when there are no coordinates."""
    if setting != "auto":
        return setting
    ok = np.isfinite(lat) & np.isfinite(lon)
    if not ok.any():
        return None
    return utm_crs(float(np.median(lat[ok])), float(np.median(lon[ok])))


def numeric(column: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """Text -> float, NaN where missing or not a number (validation reports those)."""
    return pd.to_numeric(pd.Series(column.to_numpy(zero_copy_only=False)), errors="coerce").to_numpy(float)


def fill_xy(batch: pa.Table, crs_setting: str, crs: str | None) -> tuple[pa.Table, str | None]:
    """Fill missing x/y from lat/lon; returns the batch and the CRS used (kept for the whole file)."""
    names = batch.column_names
    if "lat" not in names or "lon" not in names:
        return batch, crs
    missing = _missing_xy(batch)
    if not missing.any():
        return batch, crs
    lat, lon = numeric(batch.column("lat")), numeric(batch.column("lon"))
    crs = crs or choose_crs(lat, lon, crs_setting)
    if crs is None:
        return batch, crs
    todo = missing & np.isfinite(lat) & np.isfinite(lon) & (np.abs(lat) <= 90) & (np.abs(lon) <= 180)
    x, y = np.full(len(lat), np.nan), np.full(len(lat), np.nan)
    if todo.any():
        x[todo], y[todo] = Transformer.from_crs("EPSG:4326", crs, always_xy=True).transform(
            lon[todo], lat[todo]
        )
    for name, values in (("x", x), ("y", y)):
        text = pa.array([f"{v:.2f}" if np.isfinite(v) else None for v in values], pa.string())
        given = batch.column(name) if name in batch.column_names else pa.nulls(len(lat), pa.string())
        column = pc.if_else(pa.array(todo), text, given)
        batch = _set(batch, name, column)
    return batch, crs


def _missing_xy(batch: pa.Table) -> np.ndarray:
    n = batch.num_rows
    if "x" not in batch.column_names or "y" not in batch.column_names:
        return np.ones(n, bool)
    return pc.is_null(batch.column("x")).to_numpy(zero_copy_only=False) | pc.is_null(
        batch.column("y")
    ).to_numpy(zero_copy_only=False)


def _set(batch: pa.Table, name: str, column: pa.Array | pa.ChunkedArray) -> pa.Table:
    if name in batch.column_names:
        return batch.set_column(batch.column_names.index(name), name, column)
    return batch.append_column(name, column)
