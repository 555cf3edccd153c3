"""The stages' DuckDB SQL, translated for Spark in one place: parameters bound as literals, DuckDB-only
functions rewritten. Each case is also run on DuckDB itself, so the bound statement means what the original
with parameters meant."""

from __future__ import annotations

import datetime as dt

import duckdb
import numpy as np
import pytest

from casegraph.errors import EngineError
from casegraph.store.dialect import bind, render, statement


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("it's", "it's"),
        (np.int64(7), 7),
        (2.5, 2.5),
        (None, None),
        (True, True),
        (dt.date(2024, 2, 29), dt.date(2024, 2, 29)),
        (dt.datetime(2024, 2, 29, 13, 5, 1), dt.datetime(2024, 2, 29, 13, 5, 1)),
        (["a", "b"], ["a", "b"]),
    ],
)
def test_a_bound_value_means_what_the_parameter_meant(value: object, expected: object) -> None:
    assert duckdb.sql(bind("SELECT ?", [value])).fetchall() == [(expected,)]
    plain = value.item() if isinstance(value, np.generic) else value  # DuckDB's own binding: Python values
    assert duckdb.execute("SELECT ?", [plain]).fetchall() == [(expected,)]


def test_a_question_mark_inside_a_string_is_not_a_parameter() -> None:
    assert bind("SELECT '?' AS q, ? AS v", [1]) == "SELECT '?' AS q, 1 AS v"
    with pytest.raises(EngineError, match="2 parameters for 1 placeholders"):
        bind("SELECT ?", [1, 2])


def test_duckdb_only_functions_become_spark_ones() -> None:
    sql = render(
        statement(
            "SELECT regexp_full_match(x, '[a-z]+:.*') AS ok, date_sub('year', dob, seen::DATE) AS age, "
            "list_contains(CAST(? AS VARCHAR[]), role) AS wanted FROM t",
            [["suspect", "arrestee"]],
        )
    )
    assert "x RLIKE '^(?:[a-z]+:.*)$'" in sql
    assert "TIMESTAMPDIFF(YEAR, dob, CAST(seen AS DATE))" in sql
    assert "ARRAY_CONTAINS(CAST(ARRAY('suspect', 'arrestee') AS ARRAY<STRING>), role)" in sql
    assert "REGEXP_FULL_MATCH" not in sql and "DATE_SUB" not in sql


def test_list_slices_and_null_keeping_arg_min_become_spark_ones() -> None:
    sql = render(statement("SELECT list_sort(x)[1:50] AS a, x[2:] AS b, arg_min_null(v, k) AS c FROM t"))
    assert "SLICE(ARRAY_SORT(x), 1, 50)" in sql
    assert "SLICE(x, 2, SIZE(x) - 2 + 1)" in sql
    assert "MIN_BY(v, k)" in sql


def test_a_row_value_in_a_subquery_compares_its_columns() -> None:
    sql = render(statement("SELECT * FROM e WHERE (a, b) IN (SELECT (a, b) FROM t WHERE n > 1)"))
    assert "(a, b) IN (SELECT a, b FROM t WHERE n > 1)" in sql
