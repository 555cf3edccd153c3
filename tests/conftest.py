"""Shared fixtures: a small synthetic city (fixed seed) made once per session, and stores built from it."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from casegraph.settings import Settings, load_settings
from casegraph.store import open_store

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
CITY_INCIDENTS, CITY_SEED = 3000, 7


def table_counts(store: Any) -> dict[str, int]:
    """Rows per table: what a stage run changed is the difference of two of these."""
    return {t: store.count(t) for t in store.table_names()}


def changed_tables(store: Any, before: dict[str, int]) -> set[str]:
    return {t for t, n in table_counts(store).items() if n != before.get(t, 0)}


def store_planted_series(store: Any, city_dir: Path) -> None:
    """The city's planted series in the `series` table, as a perfect linkage run would store them."""
    import pandas as pd

    truth = pd.read_csv(city_dir / "incident_truth.csv").dropna(subset=["series_id"])
    with store.registered("truth_series", truth[["series_id", "incident_id"]].drop_duplicates()):
        store.execute(
            "INSERT INTO series (series_id, run_id, agency, incident_id) SELECT t.series_id, 'truth', i.agency, "
            "t.incident_id FROM truth_series t JOIN incidents i USING (incident_id)"
        )


def shared_data(*parts: str) -> Path:
    """A path under ../shared/data, or a clear skip when the folder is absent."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(
            f"real data not available: {path} is absent (it sits beside the project in ../shared/data)"
        )
    return path


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    s = load_settings()
    s.store.path = str(tmp_path / "store.duckdb")
    return s


@pytest.fixture
def store(settings: Settings):
    st = open_store(settings)
    yield st
    st.close()


@pytest.fixture(scope="session")
def city_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from casegraph.demo import make_city

    out = tmp_path_factory.mktemp("city")
    make_city(out, n_incidents=CITY_INCIDENTS, seed=CITY_SEED)
    return out


@pytest.fixture(scope="session")
def city_store_file(city_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The city ingested once into a store file; tests copy it so each gets its own store."""
    from casegraph import ingest

    path = tmp_path_factory.mktemp("citystore") / "city.duckdb"
    s = load_settings()
    s.store.path = str(path)
    st = open_store(s)
    ingest.run_folder(st, s, city_dir)
    st.close()
    return path


@pytest.fixture
def city_store(city_store_file: Path, settings: Settings):
    shutil.copy(city_store_file, settings.store.path)
    st = open_store(settings)
    yield st
    st.close()
