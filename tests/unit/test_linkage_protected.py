"""No protected field can reach a linkage feature, blocking key, stored encoding or explanation.

The behavioural proof (changing suspect_race changes no probability) is in tests/stages/test_linkage.py.
"""

from __future__ import annotations

import pandas as pd
import pytest

from casegraph.errors import SchemaError
from casegraph.linkage.comparisons import COMPARISONS, Comparison, check_fields, fields_read, selected
from casegraph.linkage.encode import IncidentEncoder
from casegraph.linkage.index import incidents_sql
from casegraph.schema import model

PROTECTED = {name for table, name in model.protected_fields() if table == "incidents"}


def test_the_schema_protects_the_reported_race():
    assert "suspect_race" in PROTECTED


def test_no_comparison_reads_a_protected_field():
    for comparison in COMPARISONS:
        assert not set(comparison.fields) & PROTECTED, comparison.name
    assert not set(fields_read(selected())) & PROTECTED


@pytest.mark.parametrize("field", sorted(PROTECTED))
def test_a_comparison_on_a_protected_field_is_refused(field):
    with pytest.raises(SchemaError, match="protected"):
        check_fields(Comparison("x", "category", (field,), "", ""), model.table("incidents"))


def test_the_incident_query_never_selects_a_protected_field():
    sql = incidents_sql(fields_read(selected()))
    assert not any(field in sql for field in PROTECTED)
    with pytest.raises(SchemaError, match="protected"):
        incidents_sql(["offence", *PROTECTED])


def test_the_encoding_ignores_a_protected_column_even_when_present():
    frame = pd.DataFrame(
        {
            "offence": ["burglary"] * 4,
            "occurred_from": pd.to_datetime(["2024-01-01"] * 4),
            "premises": ["house", "flat", "house", "flat"],
            "suspect_race": ["a", "b", "a", "b"],
        }
    )
    encoder = IncidentEncoder(comparisons=selected(["premises", "days_apart"])).fit(frame)
    encoded = encoder.transform(frame)
    changed = encoder.transform(frame.assign(suspect_race=["c", "c", "d", "d"]))
    assert not any("race" in name for name in encoded.columns)
    for name, values in encoded.columns.items():
        pd.testing.assert_series_equal(pd.Series(values), pd.Series(changed[name]))
