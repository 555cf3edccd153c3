"""Map exports GIS tools open: every layer (incidents, series, hot-spot classes, a group's areas over time) in
GeoJSON and GeoPackage, read back by GDAL (pyogrio) and checked independently (GeoJSON as RFC 7946 text, the
GeoPackage's own SQLite tables); each export is a logged dissemination; x/y are placed only when their
projection reproduces the incidents' lat/lon."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import shapely
from pyogrio.raw import read
from pyproj import Transformer
from typer.testing import CliRunner

from casegraph import trends
from casegraph.cli import app
from casegraph.errors import CasegraphError
from casegraph.export.maps import place, projected
from casegraph.ingest.geo import utm_crs
from casegraph.settings import load_settings
from casegraph.store import open_store
from tests.conftest import store_planted_series

runner = CliRunner()
LAYERS = {"incidents": [], "series": [], "hotspots": [], "group-areas": ["--group", "G03"]}


@pytest.fixture(scope="module")
def mapped_store(city_store_file: Path, city_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The city with its planted series as the linkage stage would store them, and a trends run."""
    path = tmp_path_factory.mktemp("maps") / "city.duckdb"
    shutil.copy(city_store_file, path)
    settings = load_settings()
    settings.store.path = str(path)
    store = open_store(settings)
    store_planted_series(store, city_dir)
    trends.run(store, settings)
    store.close()
    return path


def export(store: Path, layer: str, out: Path, *extra: str):
    args = ["--store", str(store), "--json", "export", layer, "-o", str(out), "--to", "DA office"]
    return runner.invoke(app, [*args, "--purpose", "case 7", *extra])


@pytest.mark.parametrize("fmt", ["geojson", "gpkg"])
@pytest.mark.parametrize("layer", list(LAYERS))
def test_every_layer_is_read_back_by_gdal_in_lon_lat(mapped_store, tmp_path, layer, fmt, monkeypatch):
    monkeypatch.delenv("CASEGRAPH_STORE", raising=False)
    out = tmp_path / f"{layer}.{fmt}"
    result = export(mapped_store, layer, out, *LAYERS[layer])
    assert result.exit_code == 0, result.output
    said = json.loads(result.stdout)
    meta, _fids, geometry, fields = read(str(out))
    assert meta["crs"] == "EPSG:4326" and len(geometry) == said["features"] > 0
    shapes = shapely.from_wkb(geometry)
    kind = "Point" if layer in ("incidents", "series") else "Polygon"
    assert set(shapely.get_type_id(shapes)) == {0 if kind == "Point" else 3}
    lon, lat = shapely.get_coordinates(shapes).T
    assert lon.min() > -88.2 and lon.max() < -87.2 and lat.min() > 41.5 and lat.max() < 42.2
    values = dict(zip(meta["fields"], fields, strict=True))
    if fmt == "geojson":
        text = json.loads(out.read_text())
        assert "crs" not in text and text["features"][0]["geometry"]["type"] == kind  # RFC 7946
    else:
        with sqlite3.connect(out) as db:
            assert db.execute("SELECT srs_id FROM gpkg_contents").fetchone() == (4326,)
            assert db.execute("SELECT geometry_type_name FROM gpkg_geometry_columns").fetchone() == (
                kind.upper(),
            )
    if layer == "group-areas":
        assert set(values["group_id"]) == {"G03"} and values["incidents"].sum() > 0


def test_points_are_the_incidents_lat_lon_and_cells_hold_their_incidents(mapped_store, city_dir, tmp_path):
    export(mapped_store, "incidents", tmp_path / "i.gpkg")
    meta, _, geometry, fields = read(str(tmp_path / "i.gpkg"))
    got = pd.DataFrame(dict(zip(meta["fields"], fields, strict=True)))[["incident_id"]]
    got[["lon", "lat"]] = shapely.get_coordinates(shapely.from_wkb(geometry))
    city = pd.read_csv(city_dir / "incidents.csv").merge(got, on="incident_id", suffixes=("", "_map"))
    assert len(city) == 3000 and np.allclose(city[["lon", "lat"]], city[["lon_map", "lat_map"]])
    export(mapped_store, "hotspots", tmp_path / "h.gpkg")
    meta, _, geometry, fields = read(str(tmp_path / "h.gpkg"))
    cells = shapely.from_wkb(geometry)
    busy = dict(zip(meta["fields"], fields, strict=True))["incidents"] > 0
    points = shapely.points(city["lon"], city["lat"])
    held = [shapely.contains(cell, points).sum() for cell in cells[busy][:50]]
    assert all(n > 0 for n in held)  # the placed cells sit on their incidents


def test_each_map_export_is_a_logged_dissemination(mapped_store, tmp_path):
    export(mapped_store, "series", tmp_path / "s.geojson")
    store = open_store(_settings(mapped_store))
    try:
        row = store.df("SELECT recipient, purpose, what, file FROM disseminations WHERE what = 'map series'")
        items = store.scalar(
            "SELECT count(*) FROM dissemination_items JOIN disseminations USING (dissemination_id) "
            "WHERE what = 'map series' AND table_name = 'incidents'"
        )
    finally:
        store.close()
    assert row.iloc[-1].to_dict() == {
        "recipient": "DA office",
        "purpose": "case 7",
        "what": "map series",
        "file": str(tmp_path / "s.geojson"),
    }
    assert items > 100  # the incidents it held, one row each


def _settings(path: Path):
    s = load_settings()
    s.store.path = str(path)
    return s


def around_chicago(n: int = 500) -> pd.DataFrame:
    rng = np.random.default_rng(3)
    lon, lat = -87.7 + rng.uniform(-0.2, 0.2, n), 41.85 + rng.uniform(-0.15, 0.15, n)
    return pd.DataFrame({"lon": lon, "lat": lat})


def with_xy(points: pd.DataFrame, crs: str) -> pd.DataFrame:
    x, y = Transformer.from_crs("EPSG:4326", crs, always_xy=True).transform(points["lon"], points["lat"])
    return points.assign(x=np.round(x, 1), y=np.round(y, 1))


def test_placement_names_the_projection_or_asks_for_it():
    chicago = around_chicago()
    assert place(with_xy(chicago, "EPSG:32616"), utm_crs).how == "x/y in EPSG:32616"
    state_plane = with_xy(chicago, "EPSG:26971")  # Illinois East: neither UTM nor a plane within 2 m
    with pytest.raises(CasegraphError, match="name it with --crs"):
        place(state_plane, utm_crs)
    assert place(state_plane, "EPSG:26971").gap_m < 0.1
    with pytest.raises(CasegraphError, match="not in EPSG:32616"):
        place(state_plane, "EPSG:32616")
    local = chicago.assign(x=(chicago["lon"] + 87.7) * 83_000, y=(chicago["lat"] - 41.85) * 111_000)
    assert place(local, utm_crs).how == "x/y placed by a plane fitted to lat/lon"


def test_other_things_lat_lon_land_where_the_map_draws_incidents():
    """A sighting's lat/lon goes to the incidents' own x/y: through their UTM zone, or through the inverse of the
    plane fitted to them; missing coordinates stay missing."""
    chicago = around_chicago()
    riverton = pd.DataFrame({"lon": [-87.9, -87.7, np.nan], "lat": [42.35, 41.85, 41.9]})  # 55 km north; none
    for anchors, crs in (
        (with_xy(chicago, "EPSG:32616"), "EPSG:32616"),
        (chicago.assign(x=(chicago["lon"] + 87.7) * 83_000, y=(chicago["lat"] - 41.85) * 111_000), None),
    ):
        xy = projected(anchors, riverton["lat"].to_numpy(), riverton["lon"].to_numpy(), utm_crs)
        if crs:
            want = with_xy(riverton.iloc[:2], crs)[["x", "y"]].to_numpy()
        else:
            want = np.array([[-0.2 * 83_000, 0.5 * 111_000], [0.0, 0.0]])
        assert np.allclose(xy[:2], want, atol=1.0), (xy, want)
        assert np.isnan(xy[2]).all()
