"""CSV output: one file per record table and per truth table, header = field names, rows counted."""

from __future__ import annotations

import csv
from pathlib import Path
from types import TracebackType
from typing import IO, Any

HEADERS: dict[str, tuple[str, ...]] = {
    "incidents": (
        "incident_id",
        "agency",
        "offence",
        "occurred_from",
        "occurred_to",
        "lat",
        "lon",
        "x",
        "y",
        "area",
        "premises",
        "mo_entry",
        "mo_target",
        "mo_other",
        "weapon",
        "property_taken",
        "vehicle",
        "narrative",
        "suspect_count",
        "suspect_age_min",
        "suspect_age_max",
        "suspect_height_cm",
        "suspect_build",
        "suspect_clothing",
        "status",
    ),
    "person_records": (
        "record_id",
        "agency",
        "given_name",
        "middle_name",
        "family_name",
        "alias",
        "dob",
        "sex",
        "address",
        "postcode",
        "phone",
        "id_number",
    ),
    "arrests": ("arrest_id", "agency", "record_id", "incident_id", "arrested_at", "charge", "lat", "lon"),
    "involvements": ("involvement_id", "agency", "incident_id", "record_id", "role"),
    "groups": ("group_id", "agency", "name", "kind", "description"),
    "membership_claims": (
        "claim_id",
        "agency",
        "record_id",
        "group_id",
        "criteria",
        "evidence",
        "entered_by",
        "entered_at",
        "review_date",
        "approved_by",
    ),
    "contacts": ("contact_id", "agency", "kind", "occurred_at", "lat", "lon", "area", "description"),
    "contact_participants": ("participant_id", "agency", "contact_id", "record_id"),
    "property_items": (
        "item_id",
        "agency",
        "incident_id",
        "kind",
        "make",
        "model",
        "imei",
        "serial",
        "description",
    ),
    "property_events": (
        "event_id",
        "agency",
        "kind",
        "occurred_at",
        "item_kind",
        "make",
        "model",
        "imei",
        "serial",
        "record_id",
        "incident_id",
        "lat",
        "lon",
        "city",
        "area",
    ),
    # A regional pawn database's export in its own layout (imported with the pawn_* mappings).
    "pawn_transactions": (
        "agency",
        "transaction_id",
        "transaction_date",
        "transaction_type",
        "shop_name",
        "shop_licence",
        "shop_city",
        "shop_area",
        "shop_lat",
        "shop_lon",
        "item_type",
        "make",
        "model",
        "imei",
        "serial",
        "description",
        "seller_first_name",
        "seller_last_name",
        "seller_dob",
        "seller_id_number",
        "seller_address",
    ),
    "incident_truth": ("incident_id", "offender_id", "series_id"),
    "person_truth": ("record_id", "person_id"),
    "group_truth": ("person_id", "group_id"),
    "group_tie_truth": ("group_a", "group_b", "onset"),
    "spread_truth": ("group_id", "area", "first_date"),
    "property_truth": ("item_id", "agency", "incident_id", "offender_id", "holder_id", "event_id"),
    "fence_truth": ("person_id", "group_id", "buys_from", "resale_city", "resale_from"),
    "item_spread_truth": ("group_id", "city", "first_date", "items"),
}
RECORD_TABLES = tuple(t for t in HEADERS if not t.endswith("_truth"))
TRUTH_TABLES = tuple(t for t in HEADERS if t.endswith("_truth"))


class Tables:
    """Open CSV writers for every table; rows go straight to disk (large buffers, nothing kept)."""

    def __init__(self, out_dir: Path) -> None:
        out_dir.mkdir(parents=True, exist_ok=True)
        self.counts: dict[str, int] = dict.fromkeys(HEADERS, 0)
        self._files: list[IO[str]] = []
        self._writers: dict[str, Any] = {}
        for table, header in HEADERS.items():
            fh = (out_dir / f"{table}.csv").open("w", newline="", encoding="utf-8", buffering=1 << 20)
            self._files.append(fh)
            self._writers[table] = csv.writer(fh, lineterminator="\n")
            self._writers[table].writerow(header)

    def write(self, table: str, row: list[Any]) -> None:
        self._writers[table].writerow(row)
        self.counts[table] += 1

    def write_many(self, table: str, rows: list[list[Any]]) -> None:
        self._writers[table].writerows(rows)
        self.counts[table] += len(rows)

    def close(self) -> None:
        for fh in self._files:
            fh.close()
        self._files.clear()

    def __enter__(self) -> Tables:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
