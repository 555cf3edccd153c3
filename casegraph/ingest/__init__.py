"""Stage `ingest`: files -> validated record tables, with provenance on every row and rejects kept.

One import is one transaction: a killed import leaves the store as it was. A file already imported
(same table and checksum) is a no-op; rows already stored (same agency and id, same values) are skipped.
"""

from __future__ import annotations

import hashlib
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from casegraph.errors import IngestError
from casegraph.ingest.load import load_file
from casegraph.ingest.mapping import Mapping, load_mapping
from casegraph.ingest.readers import checksum, file_format
from casegraph.ingest.report import IngestReport
from casegraph.progress import NoProgress, Progress
from casegraph.schema import model
from casegraph.settings import Settings
from casegraph.store import Store, require_engine

ENGINES = ("duckdb",)  # the engines this stage runs on (the store's engine decides)
READS = ("sources",)
# What an import checks its rows against besides its target: purged ids, earlier files, the records a claim
# cites (a server store copies these into the import's snapshot).
IMPORT_READS = (
    "sources",
    "tombstones",
    "incidents",
    "arrests",
    "contacts",
    "membership_claims",
    "person_records",
)
WRITES = (
    "sources",
    "rejects",
    "incidents",
    "person_records",
    "arrests",
    "involvements",
    "groups",
    "membership_claims",
    "contacts",
    "contact_participants",
    "property_items",
    "property_events",
)


def run(
    store: Store,
    settings: Settings,
    path: str | Path,
    *,
    table: str | None = None,
    mapping: str | Path | None = None,
    agency: str | None = None,
    fmt: str | None = None,
    encoding: str = "utf-8",
    progress: Progress | None = None,
) -> IngestReport:
    """Import one file into a record table. Raises IngestError when nothing can be imported."""
    require_engine(store, "ingest", ENGINES)
    started = time.perf_counter()
    path = Path(path)
    if not path.is_file():
        raise IngestError(f"{path}: no such file")
    rules = load_mapping(mapping) if mapping else None
    target = _target_table(table, rules, path)
    digest = checksum(path)
    report = IngestReport(str(path), target, agency or (rules.agency if rules else None))
    previous = store.rows(
        "SELECT source_id FROM sources WHERE table_name = ? AND checksum = ?", [target, digest]
    )
    if previous:
        report.already_imported, report.source_id = True, previous[0][0]
        return report
    report.source_id = hashlib.sha256(f"{target}|{digest}".encode()).hexdigest()[:24]
    limit = datetime.now(UTC).replace(tzinfo=None) + timedelta(
        minutes=settings.ingest.future_tolerance_minutes
    )
    with store.transaction():
        load_file(
            store,
            settings,
            report,
            rules,
            file_format(path, fmt),
            encoding,
            limit,
            digest,
            progress or NoProgress(),
        )
    report.seconds = round(time.perf_counter() - started, 3)
    return report


# Import order for a folder of record files: referenced tables first (a claim's evidence must exist before it).
FOLDER_ORDER = (
    "incidents",
    "person_records",
    "arrests",
    "involvements",
    "contacts",
    "contact_participants",
    "groups",
    "membership_claims",
    "property_items",
    "property_events",
)
# Exports in a source's own layout, imported with shipped mappings (file stem -> (table, mapping) in order):
# a pawn-transaction export's sellers become person records, its transactions property events naming them.
MAPPED_EXPORTS: dict[str, tuple[tuple[str, str], ...]] = {
    "pawn_transactions": (("person_records", "pawn_sellers"), ("property_events", "pawn_transactions")),
}


def run_folder(
    store: Store,
    settings: Settings,
    folder: str | Path,
    *,
    agency: str | None = None,
    progress: Progress | None = None,
) -> list[IngestReport]:
    """Import every `<table>.csv|jsonl|parquet` in a folder (a synthetic city, an agency's export)."""
    return [
        run(store, settings, path, table=table, mapping=mapping, agency=agency, progress=progress)
        for table, path, mapping in folder_files(folder)
    ]


def folder_files(folder: str | Path) -> list[tuple[str, Path, str | None]]:
    """(table, file, shipped mapping or None) of each `<table>.csv|jsonl|parquet` in a folder and of each
    known export (MAPPED_EXPORTS), in the order records refer to each other."""
    found: list[tuple[str, Path, str | None]] = [
        (table, Path(folder) / f"{table}.{ext}", None)
        for table in FOLDER_ORDER
        for ext in ("csv", "jsonl", "parquet")
        if (Path(folder) / f"{table}.{ext}").exists()
    ]
    if not found:
        raise IngestError(f"{folder}: no record files (expected e.g. incidents.csv, person_records.csv)")
    for stem, parts in MAPPED_EXPORTS.items():
        for ext in ("csv", "jsonl", "parquet"):
            path = Path(folder) / f"{stem}.{ext}"
            if path.exists():
                found += [(table, path, mapping) for table, mapping in parts]
    return found


def _target_table(table: str | None, rules: Mapping | None, path: Path) -> str:
    if rules and table and rules.table != table:
        raise IngestError(f"the mapping is for table {rules.table!r}, not {table!r}")
    name = table or (rules.table if rules else None)
    if not name:
        raise IngestError(
            f"{path}: say which table the file holds (e.g. `casegraph ingest incidents {path}`)"
        )
    if model.table(name).kind != "record":
        raise IngestError(
            f"{name} is not a record table; import into one of: "
            + ", ".join(t.name for t in model.record_tables())
        )
    return name


__all__ = [
    "ENGINES",
    "FOLDER_ORDER",
    "IMPORT_READS",
    "MAPPED_EXPORTS",
    "READS",
    "WRITES",
    "IngestReport",
    "folder_files",
    "run",
    "run_folder",
]
