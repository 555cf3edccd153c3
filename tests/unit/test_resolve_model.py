"""The Splink model reads only matchable, unprotected fields; its custom date levels do what they say."""

from __future__ import annotations

import re
from datetime import date

import duckdb
import pandas as pd
import pytest

from casegraph.resolve import model, prepare
from casegraph.schema import model as schema
from casegraph.settings import ResolveSettings

PROTECTED = [f.name for f in schema.table("person_records").fields if f.protected]


def referenced_columns(settings_dict: dict) -> set[str]:
    """Every l./r. column and every *_l / *_r column named in the rendered Splink settings."""
    text = repr(settings_dict)
    found = set(re.findall(r"\b[lr]\.\"?([a-z_]+)", text))
    found |= {m for m in re.findall(r"\b([a-z_]+)_[lr]\b", text)}
    return found - {"match_weight", "match_probability", "tf"}


def test_protected_fields_exist_and_are_never_read() -> None:
    assert PROTECTED == ["race"], "the schema's protected person field moved: update this test"
    assert "race" not in prepare.matchable_fields()
    assert "race" not in prepare.records_sql()
    assert set(prepare.SOURCE_FIELD.values()) <= set(prepare.matchable_fields())


def test_every_compared_or_blocked_column_derives_from_a_matchable_field() -> None:
    rs = ResolveSettings(cross_agency_only=True)
    rendered = model.splink_settings(rs).get_settings("duckdb").as_dict()
    rules = [*rs.blocking_rules, *rs.training_rules, *rs.deterministic_rules]
    used = referenced_columns(rendered) | referenced_columns({"rules": rules})
    allowed = set(prepare.SOURCE_FIELD) | {"agency", "uid"}  # agency only to keep linked sources apart
    assert used, "no columns found: the parser of the rendered settings is broken"
    assert used <= allowed, f"columns outside the matchable set: {used - allowed}"
    for name in PROTECTED:
        assert not re.search(rf"\b{name}\b", repr(rendered) + repr(rules))


def test_prepare_output_ignores_protected_values() -> None:
    base = {
        "agency": "a",
        "record_id": "1",
        "given_name": "Ann",
        "middle_name": None,
        "family_name": "Lee",
        "alias": None,
        "dob": date(1990, 1, 2),
        "sex": "female",
        "address": None,
        "postcode": None,
        "phone": None,
        "id_number": None,
    }
    one = prepare.prepare(pd.DataFrame([{**base, "race": "x"}]))
    two = prepare.prepare(pd.DataFrame([{**base, "race": "y"}]))
    assert "race" not in one.column_names
    assert one.equals(two)


@pytest.mark.parametrize(
    ("left", "right", "level"),
    [
        (date(1990, 3, 7), date(1990, 7, 3), model.TRANSPOSED),
        (date(1990, 1, 1), date(1990, 6, 15), model.PARTIAL),
        (date(1980, 6, 15), date(1990, 6, 15), model.YEAR_ONLY_DIFFERS),
    ],
)
def test_custom_date_levels_hold_for_their_case(left: date, right: date, level: str) -> None:
    con = duckdb.connect()
    assert con.execute(
        f"SELECT {level} FROM (SELECT ?::DATE AS dob_l, ?::DATE AS dob_r)", [left, right]
    ).fetchall()[0][0]


def test_transposition_level_rejects_a_plain_difference() -> None:
    con = duckdb.connect()
    sql = f"SELECT {model.TRANSPOSED} FROM (SELECT DATE '1990-03-07' AS dob_l, DATE '1990-03-08' AS dob_r)"
    assert con.execute(sql).fetchall()[0][0] is False


def test_a_rule_on_an_array_column_explodes_it() -> None:
    rule = model.blocking_rule("l.family = r.family AND l.given_nicknames = r.given_nicknames")
    assert rule.arrays_to_explode == ["given_nicknames"]
    assert model.blocking_rule("l.dob = r.dob") == "l.dob = r.dob"


def test_cross_agency_rules_add_the_agency_condition() -> None:
    assert model.rules(["l.dob = r.dob"], True) == ["(l.dob = r.dob) AND l.agency <> r.agency"]
    assert model.rules(["l.dob = r.dob"], False) == ["l.dob = r.dob"]
