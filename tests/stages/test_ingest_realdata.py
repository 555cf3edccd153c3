"""The shipped mappings import the real public files in ../shared/data/incidents (skipped when absent)."""

from __future__ import annotations

import pytest

from casegraph import ingest
from tests.conftest import shared_data

pytestmark = pytest.mark.realdata


def test_toronto_mci_imports_every_row(store, settings):
    path = shared_data("incidents", "toronto_mci_2014_2021", "toronto_mci_2014_2021.csv")
    report = ingest.run(store, settings, path, mapping="toronto_mci")
    assert (report.loaded, report.rejected) == (239_935, 0)
    offences = dict(store.rows("SELECT offence, count(*) FROM incidents GROUP BY 1"))
    assert offences == {
        "assault": 124_655,
        "vehicle_theft": 32_220,
        "burglary": 54_562,
        "robbery": 19_956,
        "theft": 8_542,
    }  # (the README's per-category totals)
    first = store.rows(
        "SELECT occurred_from, area, premises, x, y FROM incidents ORDER BY source_row LIMIT 1"
    )
    assert first == [(first[0][0], "Alderwood", "commercial", 616841.7, 4829568.8)]
    assert str(first[0][0]) == "2014-01-01 00:00:00"


def test_chicago_burglary_imports_every_row(store, settings):
    path = shared_data(
        "incidents", "chicago_residential_burglary_2014_2017", "chicago_residential_burglary_2014_2017.csv"
    )
    report = ingest.run(store, settings, path, mapping="chicago_burglary")
    assert (report.loaded, report.rejected) == (45_319, 0)
    years = dict(store.rows("SELECT year(occurred_from), count(*) FROM incidents GROUP BY 1"))
    assert years == {2014: 12_334, 2015: 10_858, 2016: 11_701, 2017: 10_426}
