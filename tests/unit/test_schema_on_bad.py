"""The on_bad rule of each field: declared in the schema, defaulted by the field's kind, validated."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

import casegraph.schema
from casegraph.errors import SchemaError
from casegraph.schema import load_model, model

SCHEMA = Path(casegraph.schema.__file__).parent


def test_fields_that_identify_a_record_reject_the_row_the_others_drop_the_value():
    people = model.table("person_records")
    rules = {f.name: f.on_bad for f in people.fields}
    assert rules["record_id"] == rules["agency"] == rules["source_id"] == "reject_row"
    assert rules["dob"] == rules["sex"] == rules["given_name"] == rules["address"] == "drop_value"
    incidents = model.table("incidents")
    assert incidents.field("suspect_height_cm").on_bad == "drop_value"
    assert incidents.field("offence").on_bad == "reject_row"  # required
    assert incidents.field("occurred_to").on_bad == "reject_row"  # declared: its default would invent a time
    assert model.table("arrests").field("incident_id").on_bad == "reject_row"  # a reference, though optional


def _schema_with(tmp_path: Path, table: str, field: str, rule: str) -> Path:
    root = tmp_path / "schema"
    shutil.copytree(SCHEMA, root, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    path = root / "tables" / f"{table}.yaml"
    spec = yaml.safe_load(path.read_text())
    spec["fields"][field]["on_bad"] = rule
    path.write_text(yaml.safe_dump(spec))
    return root


def test_an_unknown_rule_is_refused(tmp_path):
    with pytest.raises(
        SchemaError, match=r"person_records\.dob: on_bad 'skip' is not one of reject_row, drop_value"
    ):
        load_model(_schema_with(tmp_path, "person_records", "dob", "skip"))


def test_dropping_a_key_value_is_refused(tmp_path):
    with pytest.raises(
        SchemaError, match=r"person_records\.record_id: on_bad drop_value is not allowed on a key"
    ):
        load_model(_schema_with(tmp_path, "person_records", "record_id", "drop_value"))
    strict = load_model(_schema_with(tmp_path / "b", "person_records", "dob", "reject_row"))
    assert strict.table("person_records").field("dob").on_bad == "reject_row"
