"""Projected x/y in metres from lat/lon (pyproj), so distances in later stages are true metres."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
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
    """Text -> float, with NaN where the text is missing or not a number (validation reports those)."""
    values = column.to_pylist()
    out = np.full(len(values), np.nan)
    for i, v in enumerate(values):
        if v is None:
            continue
        try:
            out[i] = float(v)
        except ValueError:
            continue
    return out


def fill_xy(batch: pa.Table, crs_setting: str, crs: str | None) -> tuple[pa.Table, str | None]:
    """Fill missing x/y from lat/lon; returns the batch and the CRS used (kept for the whole file)."""
    names = batch.column_names
    if "lat" not in names or "lon" not in names:
        return batch, crs
    lat, lon = numeric(batch.column("lat")), numeric(batch.column("lon"))
    crs = crs or choose_crs(lat, lon, crs_setting)
    if crs is None:
        return batch, crs
    ok = np.isfinite(lat) & np.isfinite(lon) & (np.abs(lat) <= 90) & (np.abs(lon) <= 180)
    x, y = np.full(len(lat), np.nan), np.full(len(lat), np.nan)
    if ok.any():
        x[ok], y[ok] = Transformer.from_crs("EPSG:4326", crs, always_xy=True).transform(lon[ok], lat[ok])
    for name, values in (("x", x), ("y", y)):
        given = batch.column(name).to_pylist() if name in names else [None] * len(lat)
        filled = [
            g if g is not None else (f"{v:.2f}" if np.isfinite(v) else None)
            for g, v in zip(given, values, strict=True)
        ]
        column = pa.array(filled, pa.string())
        batch = (
            batch.set_column(names.index(name), name, column)
            if name in names
            else batch.append_column(name, column)
        )
        names = batch.column_names
    return batch, crs
