"""Ingest: every bad-input class gets its exact error, good rows load, nothing is lost, re-import is a no-op."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from casegraph import ingest
from casegraph.errors import IngestError, RefusedField
from casegraph.export import export_table

HEADER = "incident_id,offence,occurred_from,occurred_to,lat,lon,premises,narrative,suspect_count"
GOOD = "I1,burglary,2024-01-02 10:00,2024-01-02 12:00,41.8,-87.6,house,pried rear door,1"


def write(tmp_path: Path, text: str, name: str = "incidents.csv") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def load(store, settings, path: Path, **kw):
    kw.setdefault("table", "incidents")
    kw.setdefault("agency", "metro_pd")
    return ingest.run(store, settings, path, **kw)


def rejects(store) -> list[tuple]:
    return store.rows("SELECT source_row, field, reason FROM rejects ORDER BY source_row, field")


def test_good_rows_load_with_provenance(store, settings, tmp_path):
    report = load(
        store, settings, write(tmp_path, f"{HEADER}\n{GOOD}\nI2,robbery,2024-01-03,,41.81,-87.61,street,,\n")
    )
    assert (report.loaded, report.rejected, report.exit_code) == (2, 0, 0)
    row = store.rows(
        "SELECT agency, source_id, source_row, occurred_to, x IS NOT NULL FROM incidents ORDER BY 3"
    )
    assert row[0][:3] == ("metro_pd", report.source_id, 1)
    assert str(row[1][3]) == "2024-01-03 00:00:00"  # occurred_to defaults to occurred_from
    assert row[0][4]  # x/y projected from lat/lon
    assert store.rows("SELECT file_name, rows_loaded FROM sources") == [("incidents.csv", 2)]


@pytest.mark.parametrize(
    ("row", "field", "reason"),
    [
        (
            "I9,burglary,yesterday,,41.8,-87.6,house,,1",
            "occurred_from",
            "not a valid timestamp (expected YYYY-MM-DD[ HH:MM:SS]): yesterday",
        ),
        (
            "I9,burglary,2024-13-45,,41.8,-87.6,house,,1",
            "occurred_from",
            "not a valid timestamp (expected YYYY-MM-DD[ HH:MM:SS]): 2024-13-45",
        ),
        (
            "I9,burglary,2024-01-05,2024-01-01,41.8,-87.6,house,,1",
            "occurred_to",
            "occurred_to is before occurred_from",
        ),
        ("I9,burglary,2099-01-01,,41.8,-87.6,house,,1", "occurred_from", "in the future: 2099-01-01"),
        (
            "I9,arson-ish,2024-01-05,,41.8,-87.6,house,,1",
            "offence",
            "unknown code 'arson-ish'; expected one of: robbery, burglary, theft, vehicle_theft, theft_from_vehicle, "
            "assault, criminal_damage, drugs, fraud, other",
        ),
        (",burglary,2024-01-05,,41.8,-87.6,house,,1", "incident_id", "required value is missing"),
    ],
)
def test_bad_value_is_rejected_with_its_reason(store, settings, tmp_path, row, field, reason):
    report = load(store, settings, write(tmp_path, f"{HEADER}\n{GOOD}\n{row}\n"))
    assert (report.loaded, report.rejected, report.exit_code) == (1, 1, 3)
    assert rejects(store) == [(2, field, reason)]
    raw = json.loads(store.scalar("SELECT raw FROM rejects"))
    assert raw["_row"] == 2  # the raw row is kept: nothing is lost


@pytest.mark.parametrize(
    ("row", "field", "reason"),
    [
        ("I9,burglary,2024-01-05,,91.5,-87.6,house,,1", "lat", "out of range [-90, 90]: 91.5"),
        ("I9,burglary,2024-01-05,,41.8,-187.6,house,,1", "lon", "out of range [-180, 180]: -187.6"),
        (
            "I9,burglary,2024-01-05,,41.8,-87.6,house,,many",
            "suspect_count",
            "not a valid int (expected int): many",
        ),
        (
            "I9,burglary,2024-01-05,,41.8,-87.6," + "x" * 121 + ",,1",
            "premises",
            "longer than 120 characters (121)",
        ),
    ],
)
def test_a_bad_value_in_a_field_that_does_not_identify_the_row_is_dropped_and_kept(
    store, settings, tmp_path, row, field, reason
):
    report = load(store, settings, write(tmp_path, f"{HEADER}\n{GOOD}\n{row}\n"))
    assert (report.loaded, report.rejected, report.values_dropped, report.exit_code) == (2, 0, 1, 3)
    assert report.summary().endswith(
        "incidents.csv -> incidents: 2 loaded (1 of them with 1 bad value dropped), 0 already stored, "
        "0 rejected (2 rows read)"
    )
    assert store.rows("SELECT source_row, field, reason, outcome FROM rejects") == [
        (2, field, reason, "value dropped")
    ]
    assert store.scalar(f"SELECT {field} FROM incidents WHERE incident_id = 'I9'") is None
    assert (
        store.scalar("SELECT offence FROM incidents WHERE incident_id = 'I9'") == "burglary"
    )  # the rest is kept
    raw = json.loads(store.scalar("SELECT raw FROM rejects"))
    assert raw["_row"] == 2 and raw[field] == row.split(",")[HEADER.split(",").index(field)]


def test_a_person_with_an_impossible_date_of_birth_still_reaches_identity_resolution(
    store, settings, tmp_path
):
    text = (
        "record_id,given_name,family_name,dob,address,id_number\n"
        "P1,Ann,Lee,2199-04-01,1 High St,D123\n"
        "P2,Bo,Park,1985-02-30,2 Low St,D456\n"
        "P3,Cy,Moss,1990-01-01,3 Mid St,D789\n"
        ",No,Key,1990-01-01,4 Side St,D000\n"
    )
    report = load(store, settings, write(tmp_path, text, "people.csv"), table="person_records")
    assert (report.loaded, report.rejected, report.values_dropped, report.exit_code) == (3, 1, 2, 3)
    assert store.rows("SELECT record_id, family_name, dob, address FROM person_records ORDER BY 1") == [
        ("P1", "Lee", None, "1 High St"),
        ("P2", "Park", None, "2 Low St"),
        ("P3", "Moss", __import__("datetime").date(1990, 1, 1), "3 Mid St"),
    ]
    assert rejects(store) == [
        (1, "dob", "in the future: 2199-04-01"),
        (2, "dob", "not a valid date (expected YYYY-MM-DD): 1985-02-30"),
        (4, "record_id", "required value is missing"),  # a bad key field still rejects the row
    ]
    assert [o for (o,) in store.rows("SELECT outcome FROM rejects ORDER BY source_row")] == [
        "value dropped",
        "value dropped",
        "row rejected",
    ]


def test_every_reason_of_a_row_is_kept(store, settings, tmp_path):
    load(
        store,
        settings,
        write(tmp_path, f"{HEADER}\n{GOOD}\nI9,nope,2024-01-05,2024-01-01,95,-87.6,house,,x\n"),
    )
    assert [r[1] for r in rejects(store)] == ["lat", "occurred_to", "offence", "suspect_count"]


def test_a_conflicting_id_in_the_file_names_its_rows_and_fields_an_exact_repeat_is_skipped(
    store, settings, tmp_path
):
    conflicting = GOOD.replace("pried", "kicked").replace("house", "flat")
    report = load(store, settings, write(tmp_path, f"{HEADER}\n{GOOD}\n{conflicting}\n{GOOD}\n"))
    assert (report.loaded, report.rejected, report.repeated, report.exit_code) == (1, 1, 1, 3)
    assert rejects(store) == [
        (2, "incident_id", "id 'I1' conflicts with row 1 of this file on premises, narrative (row 1 is kept)")
    ]
    assert report.summary().endswith(
        "1 loaded, 0 already stored, 1 rejected, 1 exact repeats in the file skipped (3 rows read)"
    )
    assert store.scalar("SELECT narrative FROM incidents") == "pried rear door"


def test_id_already_stored_with_other_values_is_rejected_same_values_skipped(store, settings, tmp_path):
    load(store, settings, write(tmp_path, f"{HEADER}\n{GOOD}\n", "a.csv"))
    report = load(store, settings, write(tmp_path, f"{HEADER}\n{GOOD}\nI2,theft,2024-02-01,,,,,,\n", "b.csv"))
    assert (report.loaded, report.duplicates, report.rejected) == (1, 1, 0)
    report = load(store, settings, write(tmp_path, f"{HEADER}\n{GOOD.replace('house', 'flat')}\n", "c.csv"))
    assert report.exit_code == 2
    (row,) = rejects(store)
    assert row[:2] == (1, "incident_id")
    assert row[2].startswith("id 'I1' is already stored with different values in premises (source ")


def test_truncated_last_row_is_reported(store, settings, tmp_path):
    report = load(store, settings, write(tmp_path, f"{HEADER}\n{GOOD}\nI2,robbery,2024-01-0"))
    assert (report.loaded, report.rejected) == (1, 1)
    assert rejects(store) == [(2, None, "row has 3 fields, the header has 9 (truncated or missing fields)")]


def test_row_numbers_stay_exact_around_bad_rows_and_quoted_newlines(store, settings, tmp_path):
    text = f"{HEADER}\n{GOOD}\nI2,theft\nI3,theft,2024-01-03,,,,,,\nI4,theft,2024-01-04,,,,,,\n"
    load(store, settings, write(tmp_path, text, "a.csv"))
    assert store.rows("SELECT incident_id, source_row FROM incidents ORDER BY 2") == [
        ("I1", 1),
        ("I3", 3),
        ("I4", 4),
    ]
    quoted = f'{HEADER}\nQ1,theft,2024-01-03,,,,,"two\nlines",\nQ2,theft\nQ3,theft,2024-01-04,,,,,,\n'
    report = load(store, settings, write(tmp_path, quoted, "b.csv"))
    assert (report.loaded, report.rejected) == (2, 1)
    rows = store.rows(
        "SELECT incident_id, source_row, narrative FROM incidents WHERE incident_id LIKE 'Q%' ORDER BY 2"
    )
    assert rows == [("Q1", 1, "two\nlines"), ("Q3", 3, None)]


def test_missing_required_column_refuses_the_file(store, settings, tmp_path):
    with pytest.raises(IngestError, match=r"missing required column\(s\) occurred_from for table incidents"):
        load(store, settings, write(tmp_path, "incident_id,offence\nI1,burglary\n"))
    assert store.count("incidents") == 0 and store.count("sources") == 0


def test_wrong_encoding_refuses_the_file(store, settings, tmp_path):
    path = tmp_path / "latin1.csv"
    path.write_bytes(f"{HEADER}\n{GOOD}\nI2,burglary,2024-01-02,,,,caf\xe9,,\n".encode("latin-1"))
    with pytest.raises(IngestError, match=r"not valid utf-8 text .*--encoding"):
        load(store, settings, path)
    assert store.count("incidents") == 0
    assert load(store, settings, path, encoding="latin-1").loaded == 2


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "the file is empty or has no header row"),
        (b"\x00\x01\x02binary\x00", "unreadable text file: it holds NUL bytes"),
        (HEADER.encode() + b"\n", "the file has a header but no data rows"),
    ],
)
def test_unreadable_files_are_refused(store, settings, tmp_path, content, message):
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    with pytest.raises(IngestError, match=message):
        load(store, settings, path)


def test_unknown_extension_and_missing_file(store, settings, tmp_path):
    with pytest.raises(IngestError, match="no such file"):
        load(store, settings, tmp_path / "nope.csv")
    with pytest.raises(IngestError, match="cannot tell the format"):
        load(store, settings, write(tmp_path, "x", "data.xlsx"))


@pytest.mark.parametrize(
    "column", ["nationality", "Citizenship", "immigration_status", "religion", "Political Views"]
)
def test_refused_concepts_refuse_the_file(store, settings, tmp_path, column):
    with pytest.raises(RefusedField, match=f"column '{column}' is refused"):
        load(store, settings, write(tmp_path, f"{HEADER},{column}\n{GOOD},x\n"))
    assert store.count("incidents") == 0


def test_race_only_as_protected_description_marked_by_a_mapping(store, settings, tmp_path):
    path = write(tmp_path, f"{HEADER},suspect_race\n{GOOD},described as X\n")
    with pytest.raises(RefusedField, match="may be stored only as a reported description"):
        load(store, settings, path)
    mapping = tmp_path / "m.yaml"
    fields = {h: h for h in HEADER.split(",")} | {
        "suspect_race": {"column": "suspect_race", "protected": True}
    }
    mapping.write_text(json.dumps({"table": "incidents", "fields": fields}))
    assert load(store, settings, path, mapping=mapping).loaded == 1


def test_reimport_is_a_noop(store, settings, tmp_path):
    path = write(tmp_path, f"{HEADER}\n{GOOD}\n")
    first = load(store, settings, path)
    again = load(store, settings, path)
    assert again.already_imported and again.source_id == first.source_id and again.loaded == 0
    assert store.count("incidents") == 1 and store.count("sources") == 1


def test_formula_cells_are_stored_as_given_and_exported_inert(store, settings, tmp_path):
    evil = "=cmd|' /C calc'!A0"
    load(store, settings, write(tmp_path, f'{HEADER}\nI1,burglary,2024-01-02,,,,house,"{evil}",\n'))
    assert store.scalar("SELECT narrative FROM incidents") == evil
    export_table(store, "incidents", tmp_path / "out.csv")
    with (tmp_path / "out.csv").open() as fh:
        row = next(csv.DictReader(fh))
    assert row["narrative"] == "'" + evil


def test_json_lines_and_parquet(store, settings, tmp_path):
    lines = [{"incident_id": "J1", "offence": "theft", "occurred_from": "2024-03-01T08:00:00"}, "not json"]
    path = tmp_path / "i.jsonl"
    path.write_text(json.dumps(lines[0]) + "\n{broken\n")
    report = load(store, settings, path)
    assert (report.loaded, report.rejected) == (1, 1)
    assert rejects(store)[0][2].startswith("invalid JSON")
    table = pa.table(
        {
            "incident_id": ["P1", "P2"],
            "offence": ["robbery", "robbery"],
            "occurred_from": pa.array([1_700_000_000_000_000, None], pa.timestamp("us")),
        }
    )
    pq.write_table(table, tmp_path / "i.parquet")
    report = load(store, settings, tmp_path / "i.parquet")
    assert (report.loaded, report.rejected) == (1, 1)


def test_agency_column_or_option_is_required(store, settings, tmp_path):
    with pytest.raises(IngestError, match="no agency"):
        ingest.run(store, settings, write(tmp_path, f"{HEADER}\n{GOOD}\n"), table="incidents")
    path = write(tmp_path, f"agency,{HEADER}\ncounty_so,{GOOD}\n", "with_agency.csv")
    ingest.run(store, settings, path, table="incidents")
    assert store.scalar("SELECT agency FROM incidents") == "county_so"
