"""Normalisation of person records before comparison (hand-checked values)."""

from __future__ import annotations

from datetime import date

import pandas as pd

from casegraph.resolve.prepare import (
    clean_address,
    clean_aliases,
    clean_name,
    clean_phone,
    nickname_set,
    prepare,
)


def test_names_are_transliterated_to_plain_ascii() -> None:
    assert clean_name("José-María") == "josemaria"
    assert clean_name("Müller") == "muller"
    assert clean_name("Дмитрий") == "dmitriy"
    assert clean_name("  ") is None


def test_nickname_sets_overlap_for_a_name_and_its_nicknames() -> None:
    assert "william" in nickname_set("bill") and "bill" in nickname_set("william")
    assert "elizabeth" in set(nickname_set("liz")) & set(nickname_set("elizabeth"))
    assert nickname_set("zzyzx") == ["zzyzx"]


def test_addresses_phones_and_aliases_are_normalised() -> None:
    assert (
        clean_address("12 North Main Street, Apt. 4")
        == clean_address("12 N Main St apt 4")
        == "12 n main st apt 4"
    )
    assert clean_phone("+1 (312) 555-0142") == clean_phone("312.555.0142") == "3125550142"
    assert clean_phone("12") is None
    assert clean_aliases("Shorty; Big Mike;;") == ["bigmike", "shorty"]


def test_prepared_records_carry_typed_dates_and_codes() -> None:
    raw = pd.DataFrame(
        [
            {
                "agency": "a",
                "record_id": "1",
                "given_name": "Bill",
                "middle_name": "J",
                "family_name": "Smith",
                "alias": None,
                "dob": date(1984, 2, 29),
                "sex": "Unknown",
                "address": None,
                "postcode": "606 01",
                "phone": None,
                "id_number": "d-123",
            }
        ]
    )
    row = prepare(raw).to_pylist()[0]
    assert row["dob"] == date(1984, 2, 29) and row["dob_text"] == "19840229" and row["dob_year"] == 1984
    assert row["sex"] is None  # 'unknown' is no evidence either way
    assert row["postcode"] == "60601" and row["id_number"] == "D123"
    assert row["family_code"] == "SNAT" and row["given_initial"] == "b"
