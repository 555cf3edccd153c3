"""The body of one import, run inside the store's transaction: stage raw rows, validate, insert, report."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pyarrow as pa

from casegraph.errors import IngestError
from casegraph.ingest.geo import fill_xy
from casegraph.ingest.mapping import Mapping, apply, check_columns, identity_mapping
from casegraph.ingest.readers import ROW, Batch, Restart, RowProblem, read_batches
from casegraph.ingest.report import IngestReport
from casegraph.ingest.validate import (
    PARSED,
    RAW,
    duplicate_keys_sql,
    errors_sql,
    lit,
    parse_sql,
    typed_select_sql,
)
from casegraph.progress import Progress
from casegraph.safeguards import claim_problems_sql, tombstoned_rows_sql
from casegraph.schema import Table, model
from casegraph.settings import Settings
from casegraph.store import Store, quote

ERRORS, TYPED = "_tmp_ingest_errors", "_tmp_ingest_typed"
SHOWN_PROBLEMS = 50


def load_file(
    store: Store,
    settings: Settings,
    report: IngestReport,
    rules: Mapping | None,
    fmt: str,
    encoding: str,
    now_limit: datetime,
    digest: str,
    progress: Progress,
) -> None:
    table = model.table(report.table)
    fields = [f.name for f in table.input_fields]
    store.execute(
        f"CREATE OR REPLACE TEMP TABLE {RAW} ({', '.join(quote(f) + ' VARCHAR' for f in fields)}, {ROW} BIGINT)"
    )
    present, problems = _stage_raw(store, settings, report, rules, table, fmt, encoding, digest, progress)
    if report.rows_read == 0 and not problems:
        raise IngestError(f"{report.file}: the file has a header but no data rows")
    _check_required_columns(table, present, report.file)
    formats = rules.formats() if rules else {}
    store.execute(f"CREATE OR REPLACE TEMP TABLE {PARSED} AS {parse_sql(table, present, formats)}")
    store.execute(
        f"CREATE OR REPLACE TEMP TABLE {ERRORS} AS {errors_sql(table, present, formats, now_limit)} "
        f"UNION ALL {duplicate_keys_sql(table)}"
    )
    store.execute(
        f"CREATE OR REPLACE TEMP TABLE {TYPED} AS SELECT * FROM ({typed_select_sql(table, present)}) "
        f"WHERE {ROW} NOT IN (SELECT {ROW} FROM {ERRORS})"
    )
    if table.name == "membership_claims":
        _reject_failing_claims(store, settings)
    report.purged = _skip_purged(store, table)
    _reject_conflicts(store, table)
    report.duplicates = _drop_already_stored(store, table)
    report.loaded = _insert_good_rows(store, table, report)
    _keep_rejects(store, report, problems)
    _record_source(store, report, rules, digest)
    for tmp in (RAW, PARSED, ERRORS, TYPED):
        store.execute(f"DROP TABLE IF EXISTS {tmp}")


def _stage_raw(
    store: Store,
    settings: Settings,
    report: IngestReport,
    rules: Mapping | None,
    table: Table,
    fmt: str,
    encoding: str,
    digest: str,
    progress: Progress,
) -> tuple[set[str], list[RowProblem]]:
    """Read the file into the raw temp table; returns the fields present and the reader's problems."""
    progress.start(None, f"reading {Path(report.file).name}")
    try:
        staged = _stage_batches(store, settings, report, rules, table, fmt, encoding, digest, progress, True)
    except Restart:  # exact row numbers need the slower reader (quoted newlines or blank lines)
        store.execute(f"DELETE FROM {RAW}")
        report.rows_read = 0
        staged = _stage_batches(store, settings, report, rules, table, fmt, encoding, digest, progress, False)
    progress.finish()
    return staged


def _stage_batches(
    store: Store,
    settings: Settings,
    report: IngestReport,
    rules: Mapping | None,
    table: Table,
    fmt: str,
    encoding: str,
    digest: str,
    progress: Progress,
    fast: bool,
) -> tuple[set[str], list[RowProblem]]:
    present: set[str] = set()
    problems: list[RowProblem] = []
    crs: str | None = None
    path = Path(report.file)
    for n, batch in enumerate(read_batches(path, fmt, settings.ingest.batch_rows, encoding, fast)):
        if batch.renumber is not None:
            _renumber(store, batch.renumber)
        mapping = rules or identity_mapping(table, _header(batch))
        if n == 0:
            report.ignored_columns = check_columns(table, mapping, _header(batch), report.file)
        mapped = _with_agency(apply(mapping, batch.table, f"{report.agency or 'row'}:{digest[:12]}"), report)
        if "x" in table.by_name:
            mapped, crs = fill_xy(mapped, settings.ingest.crs, crs)
        present |= set(mapped.column_names) - {ROW}
        if mapped.num_rows:
            with store.registered("_tmp_ingest_batch", mapped) as view:
                store.execute(f"INSERT INTO {RAW} BY NAME SELECT * FROM {view}")
        report.rows_read += mapped.num_rows + len(batch.problems)
        problems.extend(batch.problems)
        progress.advance(mapped.num_rows)
    report.crs = crs
    return present, problems


def _renumber(store: Store, mapping: pa.Table) -> None:
    """Provisional ordinals -> true row numbers, once the fast reader knows which lines were bad."""
    with store.registered("_tmp_ingest_renumber", mapping) as view:
        store.execute(f"UPDATE {RAW} SET {ROW} = m.{ROW} FROM {view} m WHERE {RAW}.{ROW} = m._provisional")


def _header(batch: Batch) -> list[str]:
    return [c for c in batch.table.column_names if c != ROW]


def _with_agency(mapped: pa.Table, report: IngestReport) -> pa.Table:
    """The owning agency: the file's own column, else --agency / the mapping's default."""
    if "agency" in mapped.column_names:
        if report.agency is None:
            return mapped
        filled = [a if a else report.agency for a in mapped.column("agency").to_pylist()]
        return mapped.set_column(mapped.column_names.index("agency"), "agency", pa.array(filled, pa.string()))
    if report.agency is None:
        raise IngestError(f"{report.file}: no agency: pass --agency NAME, or give the file an agency column")
    return mapped.append_column("agency", pa.array([report.agency] * mapped.num_rows, pa.string()))


def _check_required_columns(table: Table, present: set[str], file: str) -> None:
    missing = [f.name for f in table.input_fields if f.required and f.name not in present]
    if missing:
        raise IngestError(
            f"{file}: missing required column(s) {', '.join(missing)} for table {table.name} "
            f"(map them with --mapping, or name the columns after the schema: `casegraph schema {table.name}`)"
        )


def _reject_failing_claims(store: Store, settings: Settings) -> None:
    """A membership claim without its criteria, evidence or (for a minor) approval is refused (28 CFR 23.20(a))."""
    store.execute(f"INSERT INTO {ERRORS} {claim_problems_sql(TYPED, settings.safeguards)}")
    store.execute(f"DELETE FROM {TYPED} WHERE {ROW} IN (SELECT {ROW} FROM {ERRORS})")


def _skip_purged(store: Store, table: Table) -> int:
    """Purged records never come back, and are not kept in rejects either (that would keep what was purged)."""
    before = store.count(TYPED)
    store.execute(
        f"DELETE FROM {TYPED} WHERE {ROW} IN (SELECT {ROW} FROM ({tombstoned_rows_sql(table.name, TYPED)}))"
    )
    return before - store.count(TYPED)


def _reject_conflicts(store: Store, table: Table) -> None:
    """An id already stored with different values is rejected, not overwritten: records are never edited in place."""
    key = quote(table.key)
    store.execute(
        f"INSERT INTO {ERRORS} SELECT t.{ROW}, {lit(table.key)}, 'id ' || '''' || t.{key} || '''' || "
        f"' is already stored with different values (source ' || s.source_id || ' row ' || s.source_row || ')' "
        f"FROM {TYPED} t JOIN {quote(table.name)} s ON s.agency = t.agency AND s.{key} = t.{key} "
        f"WHERE s.row_hash <> t.row_hash"
    )
    store.execute(f"DELETE FROM {TYPED} WHERE {ROW} IN (SELECT {ROW} FROM {ERRORS})")


def _drop_already_stored(store: Store, table: Table) -> int:
    key = quote(table.key)
    before = store.count(TYPED)
    store.execute(
        f"DELETE FROM {TYPED} t WHERE EXISTS (SELECT 1 FROM {quote(table.name)} s "
        f"WHERE s.agency = t.agency AND s.{key} = t.{key} AND s.row_hash = t.row_hash)"
    )
    return before - store.count(TYPED)


def _insert_good_rows(store: Store, table: Table, report: IngestReport) -> int:
    cols = [f for f in table.input_fields]
    values = [
        f"coalesce({quote(f.name)}, {quote(f.default_from)})" if f.default_from else quote(f.name)
        for f in cols
    ]
    names = ", ".join(quote(f.name) for f in cols)
    store.execute(
        f"INSERT INTO {quote(table.name)} ({names}, source_id, source_row, row_hash, ingested_at) "
        f"SELECT {', '.join(values)}, ?, {ROW}, row_hash, timezone('UTC', now()) FROM {TYPED}",
        [report.source_id],
    )
    return store.count(TYPED)


def _keep_rejects(store: Store, report: IngestReport, problems: list[RowProblem]) -> None:
    """Every reason for every bad row goes to the rejects table with the raw row; the first few to the report."""
    file = Path(report.file).name
    if store.scalar(f"SELECT count(*) FROM {ERRORS}"):
        _keep_row_rejects(store, report, file)
    for p in problems:
        store.execute(
            "INSERT INTO rejects VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                f"{report.source_id}:{p.row}:",
                report.source_id,
                report.agency or "",
                report.table,
                file,
                p.row,
                p.field,
                p.reason,
                p.raw,
            ],
        )
    report.rejected = int(store.scalar(f"SELECT count(DISTINCT {ROW}) FROM {ERRORS}")) + len(problems)
    rows = store.rows(
        f"SELECT {ROW}, field, reason FROM {ERRORS} ORDER BY {ROW}, field LIMIT {SHOWN_PROBLEMS}"
    )
    shown = [{"row": p.row, "field": p.field, "reason": p.reason} for p in problems[:SHOWN_PROBLEMS]]
    shown += [{"row": r, "field": f, "reason": why} for r, f, why in rows]
    report.problems = sorted(shown, key=lambda p: int(p["row"] or 0))[:SHOWN_PROBLEMS]


def _keep_row_rejects(store: Store, report: IngestReport, file: str) -> None:
    """Rows that failed validation, each reason with the raw row as JSON (only bad rows are joined)."""
    store.execute(
        f"INSERT INTO rejects SELECT ?::VARCHAR || ':' || e.{ROW} || ':' || coalesce(e.field, '') || ':' || "
        f"row_number() OVER (PARTITION BY e.{ROW}), ?, coalesce(r.agency, ?), ?, ?, e.{ROW}, e.field, e.reason, "
        f"to_json(r) FROM {ERRORS} e LEFT JOIN (SELECT * FROM {RAW} WHERE {ROW} IN (SELECT {ROW} FROM {ERRORS})) r "
        f"USING ({ROW})",
        [report.source_id, report.source_id, report.agency or "", report.table, file],
    )


def _record_source(store: Store, report: IngestReport, rules: Mapping | None, digest: str) -> None:
    store.execute(
        "INSERT INTO sources (source_id, agency, table_name, file_name, checksum, mapping, crs, received_at, "
        "rows_read, rows_loaded, rows_rejected, rows_duplicate) VALUES (?,?,?,?,?,?,?,timezone('UTC', now()),?,?,?,?)",
        [
            report.source_id,
            report.agency or "(per row)",
            report.table,
            Path(report.file).name,
            digest,
            rules.name if rules else None,
            report.crs,
            report.rows_read,
            report.loaded,
            report.rejected,
            report.duplicates,
        ],
    )
