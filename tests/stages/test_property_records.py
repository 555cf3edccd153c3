"""Property records: IMEIs checked at ingest (15 digits, Luhn) in SQL exactly as in Python, and a pawn export
whose sellers become person records that its property events name."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from casegraph import ingest
from casegraph.schema.identifiers import imei_check_digit, is_valid_imei, near_identifiers

EXPORT_HEADER = (
    "transaction_id,transaction_date,transaction_type,shop_name,shop_licence,shop_city,shop_area,shop_lat,"
    "shop_lon,item_type,make,model,imei,serial,description,seller_first_name,seller_last_name,seller_dob,"
    "seller_id_number,seller_address"
)
VALID = "352099001761481"


def export_row(tid: str, imei: str = "", serial: str = "", seller: str = "Dan,Roe,1990-02-03,D123") -> str:
    shop = "Cash Kings,PL-1,Riverton,R1,42.3,-87.9"
    return f"{tid},2024-03-01 10:00,Pawn,{shop},Phone,Apple,iPhone 13,{imei},{serial},,{seller},1 Main St"


def test_python_imei_rule():
    assert is_valid_imei(VALID) and is_valid_imei("35-209900-176148-1")
    assert not is_valid_imei("352099001761482")  # check digit off by one
    assert not is_valid_imei("35209900176148")  # 14 digits
    assert imei_check_digit(VALID[:14]) == VALID[-1]


def test_near_identifiers():
    assert near_identifiers("ABC123", "ABC124") == "one_off"
    assert near_identifiers("ABC123", "ABC213") == "transposed"
    assert near_identifiers("ABC123", "ABC123") is None
    assert near_identifiers("ABC123", "ABD124") is None


def test_sql_imei_check_agrees_with_python(store, settings, tmp_path: Path):
    """Random 15-digit strings (about one in ten valid) and near misses of valid IMEIs: the values ingest
    drops for their IMEI are exactly those the Python rule calls invalid, and every row still loads."""
    rng = random.Random(3)
    values = [f"{rng.randrange(10**15):015d}" for _ in range(300)]
    for _ in range(100):
        body = f"{rng.randrange(10**14):014d}"
        good = body + imei_check_digit(body)
        k = rng.randrange(14)
        values += [good, good[:k] + good[k + 1] + good[k] + good[k + 2 :]]
    rows = [export_row(f"T{n}", imei=v) for n, v in enumerate(values)]
    path = tmp_path / "pawn.csv"
    path.write_text("\n".join([EXPORT_HEADER, *rows]) + "\n")
    report = ingest.run(
        store, settings, path, table="property_events", mapping="pawn_transactions", agency="a1"
    )
    dropped = {r for (r,) in store.rows("SELECT source_row FROM rejects WHERE field = 'imei'")}
    expected = {n + 1 for n, v in enumerate(values) if not is_valid_imei(v)}
    assert dropped == expected and report.loaded == len(values) and report.values_dropped == len(expected)
    assert store.scalar("SELECT count(*) FROM property_events WHERE imei IS NOT NULL") == len(values) - len(
        expected
    )
    assert 0 < len(expected) < len(values)


def test_pawn_export_sellers_are_person_records(store, settings, tmp_path: Path):
    path = tmp_path / "pawn.csv"
    rows = [
        export_row("T1", imei=VALID),
        export_row("T2", serial="SN-77", seller="Ann,Lee,1991-05-06,D9"),
        export_row("T3", imei="352099001761482"),
    ]
    path.write_text("\n".join([EXPORT_HEADER, *rows]) + "\n")
    sellers = ingest.run(store, settings, path, table="person_records", mapping="pawn_sellers", agency="a1")
    events = ingest.run(
        store, settings, path, table="property_events", mapping="pawn_transactions", agency="a1"
    )
    assert (sellers.loaded, events.loaded, events.rejected, events.values_dropped) == (3, 3, 0, 1)
    named = store.rows(
        "SELECT e.event_id, e.kind, e.city, p.given_name, p.family_name, e.imei, e.serial FROM property_events e "
        "JOIN person_records p ON p.agency = e.agency AND p.record_id = e.record_id "
        "WHERE p.record_id = 'PL-1:' || e.event_id ORDER BY 1"
    )
    assert named[:2] == [
        ("T1", "pawned", "Riverton", "Dan", "Roe", VALID, None),
        ("T2", "pawned", "Riverton", "Ann", "Lee", None, "SN-77"),
    ]
    assert named[2][0] == "T3" and named[2][5] is None  # the sale is kept, its bad IMEI is not
    assert store.rows("SELECT source_row, field, outcome FROM rejects") == [(3, "imei", "value dropped")]
    again = ingest.run(
        store, settings, path, table="property_events", mapping="pawn_transactions", agency="a1"
    )
    assert again.already_imported


@pytest.mark.parametrize("bad", ["35209900176148", "35209900176148A", "3520990017614811"])
def test_a_malformed_imei_is_a_field_level_reject(store, settings, tmp_path: Path, bad: str):
    """The item is still evidence (its kind, make, incident): it loads without the IMEI, kept in rejects."""
    path = tmp_path / "items.csv"
    path.write_text(f"item_id,incident_id,kind,imei\nX1,I1,phone,{bad}\nX2,I1,phone,{VALID}\n")
    report = ingest.run(store, settings, path, table="property_items", agency="a1")
    assert (report.loaded, report.rejected, report.values_dropped, report.exit_code) == (2, 0, 1, 3)
    assert store.rows("SELECT source_row, field, outcome FROM rejects") == [(1, "imei", "value dropped")]
    assert store.rows("SELECT item_id, imei FROM property_items ORDER BY 1") == [("X1", None), ("X2", VALID)]
