"""Map layers GIS tools open: GeoJSON (RFC 7946) and GeoPackage, written by GDAL (pyogrio), in lon/lat (EPSG:4326).

Layers: `incidents` and `series` (points from each incident's lat/lon), `hotspots` (each emerging hot spot cell as
a square) and `group-areas` (a group's area per period: the convex hull of its linked incidents). Cells and hulls
are drawn in the store's projected x/y, whose projection the store does not record: it is placed from the
incidents that have both lat/lon and x/y, either as a named projection (the caller's, or the UTM zone of the
points) or as a plane fitted to them, and only when it reproduces their lat/lon within `PLACEMENT_TOLERANCE_M`
(95 % of them); otherwise the caller is asked to name it. Text values are made inert for spreadsheets, as in every
export; protected fields are never selected.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import shapely
from pyogrio.raw import write as write_layer
from pyproj import CRS, Transformer

from casegraph.errors import CasegraphError
from casegraph.export import inert
from casegraph.store import Store

Projection = str | Callable[[float, float], str] | None
LAYERS = ("incidents", "series", "hotspots", "group-areas")
FORMATS = {"geojson": "GeoJSON", "gpkg": "GPKG"}
PLACEMENT_TOLERANCE_M = (
    2.0  # published points are rounded to the decimetre; 2 m leaves room, a wrong grid does not
)
LONLAT = "EPSG:4326"
DEGENERATE_HULL_M = 25.0  # one incident, or a line of them: a small area around them instead of no area
PERIODS = ("month", "quarter", "year")

INCIDENT_FIELDS = (
    "i.incident_id, i.agency, i.offence, i.occurred_from, i.occurred_to, i.premises, i.area, i.status"
)


@dataclass
class Layer:
    """Attribute rows and one geometry per row (shapely, lon/lat), and how the geometry was placed."""

    name: str
    rows: pd.DataFrame
    geometry: np.ndarray
    placed: str
    left_out: int = 0


@dataclass
class Placement:
    """How projected x/y become lon/lat and back: a named CRS, or a plane fitted to the incidents' lat/lon."""

    how: str
    gap_m: float
    to_lonlat: Callable[[np.ndarray], np.ndarray]
    to_xy: Callable[[np.ndarray], np.ndarray]  # (n, 2) lon/lat -> (n, 2) x/y in the incidents' projection

    def describe(self) -> str:
        return f"{self.how}, within {self.gap_m:.2f} m of the incidents' own lat/lon (95 %)"


def projected(anchors: pd.DataFrame, lat: np.ndarray, lon: np.ndarray, crs: Projection) -> np.ndarray:
    """lat/lon of other things (a stolen item's sightings) as x/y in the incidents' projection, placed from
    `anchors` (incidents with lat, lon, x, y): so the map draws them where it draws the incidents. NaN where a
    coordinate is missing."""
    out = np.full((len(lat), 2), np.nan)
    ok = np.isfinite(lat) & np.isfinite(lon)
    if ok.any():
        out[ok] = place(anchors, crs).to_xy(np.column_stack([lon[ok], lat[ok]]))
    return out


def layer(
    store: Store, name: str, *, group: str | None = None, period: str = "quarter", crs: Projection = None
) -> Layer:
    """One map layer from the store. `crs`: the projection of x/y when the caller knows it, or a function naming
    one to try from the points' median lat/lon (ingest's choice for `crs = "auto"`: their UTM zone)."""
    if name in ("incidents", "series"):
        return _points_layer(store, name)
    if name == "hotspots":
        return _hotspot_layer(store, crs)
    if name == "group-areas":
        if not group:
            raise CasegraphError("group-areas is one group's areas over time: name it with --group ID")
        if period not in PERIODS:
            raise CasegraphError(f"--period must be one of {', '.join(PERIODS)}")
        return _group_layer(store, group, period, crs)
    raise CasegraphError(f"no map layer {name!r}: the layers are {', '.join(LAYERS)}")


def _points_layer(store: Store, name: str) -> Layer:
    if name == "incidents":
        sql = f"SELECT {INCIDENT_FIELDS}, i.lat, i.lon FROM incidents i"
    else:
        sql = (
            f"SELECT s.series_id, s.size AS series_size, s.confidence, {INCIDENT_FIELDS}, i.lat, i.lon "
            "FROM series s JOIN incidents i USING (agency, incident_id) ORDER BY s.series_id, i.occurred_from"
        )
    frame = store.df(sql)
    located = frame["lat"].notna() & frame["lon"].notna()
    rows = frame[located].reset_index(drop=True)
    points = shapely.points(rows["lon"].to_numpy(float), rows["lat"].to_numpy(float))
    return Layer(
        name, rows.drop(columns=["lat", "lon"]), points, "lat/lon of each incident", int((~located).sum())
    )


def _hotspot_layer(store: Store, crs: Projection) -> Layer:
    cells = store.df("SELECT * EXCLUDE (run_id) FROM hotspots ORDER BY cell_id")
    if cells.empty:
        raise CasegraphError("the hotspots table is empty: run `casegraph trends` first")
    placement = place(store.df(_anchor_sql()), crs)
    half = cells["cell_m"].to_numpy(float) / 2
    x, y = cells["x"].to_numpy(float), cells["y"].to_numpy(float)
    squares = shapely.box(x - half, y - half, x + half, y + half)
    return Layer("hotspots", cells, _placed(squares, placement), placement.describe())


def _group_layer(store: Store, group: str, period: str, crs: Projection) -> Layer:
    linked = store.df(
        f"SELECT date_trunc('{period}', g.occurred_on)::DATE AS period, g.area, g.x, g.y, i.lat, i.lon "
        "FROM group_incidents g JOIN incidents i USING (agency, incident_id) "
        "WHERE g.group_id = ? AND g.x IS NOT NULL AND g.y IS NOT NULL ORDER BY 1",
        [group],
    )
    if linked.empty:
        raise CasegraphError(
            f"no incidents linked to group {group} (run `casegraph trends`, or check the id)"
        )
    placement = place(linked, crs)
    rows, hulls = [], []
    for start, part in linked.groupby("period", sort=True):
        hull = shapely.convex_hull(shapely.multipoints(part[["x", "y"]].to_numpy(float)))
        hulls.append(hull if isinstance(hull, shapely.Polygon) else hull.buffer(DEGENERATE_HULL_M))
        areas = sorted(part["area"].dropna().astype(str).unique())
        rows.append(
            {
                "group_id": group,
                "period": pd.Timestamp(start).date(),
                "incidents": len(part),
                "areas": ";".join(areas),
            }
        )
    geometry = _placed(np.array(hulls, dtype=object), placement)
    return Layer("group-areas", pd.DataFrame(rows), geometry, placement.describe())


def _anchor_sql() -> str:
    """Incidents with both lat/lon and x/y (a fixed sample: enough to tell a projection, cheap at 1M rows)."""
    return (
        "SELECT * FROM (SELECT lat, lon, x, y FROM incidents WHERE lat IS NOT NULL AND lon IS NOT NULL "
        "AND x IS NOT NULL AND y IS NOT NULL) USING SAMPLE reservoir(20000 ROWS) REPEATABLE (7)"
    )


def place(points: pd.DataFrame, crs: Projection) -> Placement:
    """How x/y of these points map to their lat/lon: the CRS named (or guessed) when it reproduces them; else,
    unless one was named, a plane fitted to them when it does; refused, with the gaps, otherwise."""
    known = points.dropna(subset=["lat", "lon", "x", "y"])
    if known.empty:
        raise CasegraphError("no incident has both lat/lon and x/y: the map cannot place projected cells")
    lon, lat = known["lon"].to_numpy(float), known["lat"].to_numpy(float)
    xy = known[["x", "y"]].to_numpy(float)
    guess = crs(float(np.median(lat)), float(np.median(lon))) if callable(crs) else crs
    tried = []
    if guess:
        gap = _crs_gap(lon, lat, xy, guess)
        if gap <= PLACEMENT_TOLERANCE_M:
            back = Transformer.from_crs(guess, LONLAT, always_xy=True)
            ahead = Transformer.from_crs(LONLAT, guess, always_xy=True)
            return Placement(
                f"x/y in {guess}",
                gap,
                lambda c: np.column_stack(back.transform(c[:, 0], c[:, 1])),
                lambda c: np.column_stack(ahead.transform(c[:, 0], c[:, 1])),
            )
        if isinstance(crs, str):
            raise CasegraphError(
                f"the incidents' x/y are not in {guess}: 95 % lie within {gap:,.0f} m of their lat/lon"
            )
        tried.append(f"{guess}: {gap:,.0f} m")
    fit, inverse, gap = _plane_fit(lon, lat, xy)
    if gap <= PLACEMENT_TOLERANCE_M:
        return Placement("x/y placed by a plane fitted to lat/lon", gap, fit, inverse)
    tried.append(f"a plane fitted to lat/lon: {gap:,.0f} m")
    raise CasegraphError(
        "cannot tell which projection the incidents' x/y are in (95 % gap to their lat/lon: "
        f"{'; '.join(tried)}): name it with --crs, e.g. --crs EPSG:26971 (the one your ingest mapping names)"
    )


def _crs_gap(lon: np.ndarray, lat: np.ndarray, xy: np.ndarray, crs: str) -> float:
    try:
        x, y = Transformer.from_crs(LONLAT, crs, always_xy=True).transform(lon, lat)
    except Exception as exc:  # pyproj raises its own CRSError for a name it does not know
        raise CasegraphError(f"--crs {crs}: {exc}") from exc
    return float(np.nanpercentile(np.hypot(x - xy[:, 0], y - xy[:, 1]), 95))


def _plane_fit(
    lon: np.ndarray, lat: np.ndarray, xy: np.ndarray
) -> tuple[Callable[[np.ndarray], np.ndarray], Callable[[np.ndarray], np.ndarray], float]:
    """x/y -> lon/lat as a plane (least squares), its inverse, and the 95 % gap in metres."""
    design = np.column_stack([xy, np.ones(len(xy))])
    coef, *_ = np.linalg.lstsq(design, np.column_stack([lon, lat]), rcond=None)
    fitted = design @ coef
    metres = np.array([111_320 * np.cos(np.radians(np.median(lat))), 110_540])
    gap = float(np.percentile(np.hypot(*((fitted - np.column_stack([lon, lat])) * metres).T), 95))
    linear, offset = coef[:2], coef[2]
    back = np.linalg.pinv(linear)
    return (
        (lambda c: np.column_stack([c, np.ones(len(c))]) @ coef),
        (lambda c: (np.asarray(c, float) - offset) @ back),
        gap,
    )


def _placed(shapes: np.ndarray, placement: Placement) -> np.ndarray:
    return shapely.transform(shapes, placement.to_lonlat)


def write(layer: Layer, path: Path, fmt: str) -> int:
    """Write the layer (GeoJSON or GeoPackage, lon/lat) with GDAL; returns the number of features."""
    if fmt not in FORMATS:
        raise CasegraphError(f"map formats: {', '.join(FORMATS)}")
    fields = [_column(layer.rows[c]) for c in layer.rows.columns]
    if path.exists():
        path.unlink()  # GDAL will not write a GeoPackage over an existing file
    write_layer(
        str(path),
        shapely.to_wkb(layer.geometry),
        fields,
        list(layer.rows.columns),
        layer=layer.name.replace("-", "_"),
        driver=FORMATS[fmt],
        crs=CRS.from_user_input(LONLAT).to_wkt(),
        geometry_type=_geometry_type(layer.geometry),
        layer_options={"RFC7946": "YES"} if fmt == "geojson" else None,  # lon/lat, no legacy crs member
    )
    return len(layer.rows)


def _column(values: pd.Series) -> np.ndarray:
    """A field as GDAL takes it: text made inert, dates and times as datetime64, numbers as they are."""
    if pd.api.types.is_datetime64_any_dtype(values):
        return values.to_numpy("datetime64[ms]")
    if values.dtype == object:
        if values.map(lambda v: isinstance(v, datetime)).any():
            return pd.to_datetime(values).to_numpy("datetime64[ms]")
        if values.map(lambda v: isinstance(v, date)).any():  # a day, not a time: a Date field
            return pd.to_datetime(values).to_numpy("datetime64[D]")
        return np.array([None if _missing(v) else inert(str(v)) for v in values], dtype=object)
    return values.to_numpy()


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and np.isnan(value))


def _geometry_type(geometry: np.ndarray) -> str:
    kinds = set(shapely.get_type_id(geometry).tolist())
    return {0: "Point", 3: "Polygon"}.get(kinds.pop(), "Unknown") if len(kinds) == 1 else "Unknown"
