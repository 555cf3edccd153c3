"""The body of one import, run inside the store's transaction: stage raw rows, validate, insert, report."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import pyarrow as pa

from casegraph.errors import IngestError, PolicyDenied
from casegraph.ingest.geo import fill_xy
from casegraph.ingest.mapping import Mapping, apply, check_columns, identity_mapping
from casegraph.ingest.readers import ROW, Batch, Restart, RowProblem, read_batches
from casegraph.ingest.report import IngestReport
from casegraph.ingest.validate import (
    PARSED,
    RAW,
    conflicting_keys_sql,
    errors_sql,
    lit,
    parse_sql,
    parsed_sql,
    repeated_rows_sql,
    typed_select_sql,
)
from casegraph.progress import Progress
from casegraph.safeguards import Actor, claim_problems_sql, reject_review_date_sql, tombstoned_rows_sql
from casegraph.schema import Table, model
from casegraph.settings import Settings
from casegraph.store import Store, quote

ERRORS, TYPED = "_tmp_ingest_errors", "_tmp_ingest_typed"
# Rows whose problems cost the whole row (the others lose only their bad values).
REJECTED_ROWS = f"SELECT {ROW} FROM {ERRORS} WHERE on_bad = 'reject_row'"
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
    purged = _skip_purged(store, table)  # before every other check: nothing of a purged row is kept anywhere
    report.purged = len(purged)
    _refuse_other_agencies_rows(store, report)
    formats = rules.formats() if rules else {}
    store.execute(f"CREATE OR REPLACE TEMP TABLE {PARSED} AS {parse_sql(table, present, formats)}")
    store.execute(
        f"CREATE OR REPLACE TEMP TABLE {ERRORS} AS {errors_sql(table, present, formats, now_limit)} "
        f"UNION ALL {conflicting_keys_sql(table, present)}"
    )
    store.execute(
        f"CREATE OR REPLACE TEMP TABLE {TYPED} AS SELECT * FROM ({typed_select_sql(table, present)}) "
        f"WHERE {ROW} NOT IN ({REJECTED_ROWS})"
    )
    _drop_bad_values(store, table)
    report.repeated = _skip_exact_repeats(store, table, present)
    if table.name == "membership_claims":
        _reject_failing_claims(store, settings)
    _reject_conflicts(store, table)
    report.duplicates = _drop_already_stored(store, table)
    _forget_values_of_skipped_rows(store)
    report.loaded = _insert_good_rows(store, table, report)
    _keep_rejects(store, report, problems)
    _date_rejects(store, settings, report)
    report.problems = sorted(purged + report.problems, key=lambda p: int(p["row"] or 0))[:SHOWN_PROBLEMS]
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


def _drop_bad_values(store: Store, table: Table) -> None:
    """A bad value in a field whose rule is drop_value: the row loads with that field empty (its hash, taken
    before, still tells a corrected re-export from this one); the value is kept in rejects."""
    for name in [
        r[0] for r in store.rows(f"SELECT DISTINCT field FROM {ERRORS} WHERE on_bad = 'drop_value'")
    ]:
        store.execute(
            f"UPDATE {TYPED} SET {quote(table.field(name).name)} = NULL WHERE {ROW} IN "
            f"(SELECT {ROW} FROM {ERRORS} WHERE on_bad = 'drop_value' AND field = ?)",
            [name],
        )


def _skip_exact_repeats(store: Store, table: Table, present: set[str]) -> int:
    """A row repeating an earlier row of the file exactly holds nothing new: skipped and counted, not rejected."""
    before = store.count(TYPED)
    store.execute(f"DELETE FROM {TYPED} WHERE {ROW} IN ({repeated_rows_sql(table, present)})")
    return before - store.count(TYPED)


def _refuse_other_agencies_rows(store: Store, report: IngestReport) -> None:
    """On a server store, an agency's user adds their own agency's rows only (row-level security would refuse
    the file anyway): say which rows belong to which other agencies, counted, before anything is written."""
    actor = getattr(store, "user", None)
    if not isinstance(actor, Actor) or actor.agency is None or actor.role == "platform":
        return
    mine = actor.agency.lower()
    found = store.rows(
        f"SELECT lower(trim(agency)) AS a, count(*), list({ROW} ORDER BY {ROW}) FROM {RAW} "
        f"WHERE agency IS NOT NULL AND lower(trim(agency)) <> ? GROUP BY a ORDER BY a",
        [mine],
    )
    if not found:
        return
    foreign = sum(n for _, n, _ in found)
    each = "; ".join(f"{a}: {n} row{'s' if n != 1 else ''}, {_row_ranges(rows)}" for a, n, rows in found)
    raise PolicyDenied(
        f"{report.file}: {foreign} of {report.rows_read} rows belong to agencies other than {mine} ({each}); "
        f"{actor.describe()} imports {mine}'s rows only: split the file, or ask a platform admin to import it"
    )


def _row_ranges(rows: list[int], shown: int = 8) -> str:
    """Row numbers as ranges ('2-3, 7, 9-12'), the first few of them ('...' after)."""
    spans: list[list[int]] = []
    for r in rows:
        if spans and r == spans[-1][1] + 1:
            spans[-1][1] = r
        else:
            spans.append([r, r])
    text = [f"{a}-{b}" if b > a else str(a) for a, b in spans[:shown]]
    return ", ".join(text) + (", ..." if len(spans) > shown else "")


def _reject_failing_claims(store: Store, settings: Settings) -> None:
    """A membership claim without its criteria, evidence or (for a minor) approval is refused (28 CFR 23.20(a))."""
    store.execute(
        f"INSERT INTO {ERRORS} SELECT *, 'reject_row' FROM ({claim_problems_sql(TYPED, settings.safeguards)})"
    )
    store.execute(f"DELETE FROM {TYPED} WHERE {ROW} IN ({REJECTED_ROWS})")


def _skip_purged(store: Store, table: Table) -> list[dict[str, Any]]:
    """Raw rows whose id was purged leave before any check: rejects keep a bad row's raw text, and that would
    keep what was purged. Only the row number, id and reason reach the report (the tombstone holds the id)."""
    keys = {f.name: parsed_sql(f, {}) for f in table.input_fields if f.name in (table.key, "agency")}
    ids = f"(SELECT {ROW}, {keys['agency']} AS agency, {keys[table.key]} AS {quote(table.key)} FROM {RAW})"
    found = store.rows(
        f"SELECT {ROW}, field, reason FROM ({tombstoned_rows_sql(table.name, ids)}) ORDER BY 1"
    )
    if found:
        store.execute(
            f"DELETE FROM {RAW} WHERE {ROW} IN (SELECT {ROW} FROM ({tombstoned_rows_sql(table.name, ids)}))"
        )
    return [{"row": r, "field": f, "reason": why, "outcome": "row skipped"} for r, f, why in found]


def _reject_conflicts(store: Store, table: Table) -> None:
    """An id already stored with different values is rejected, not overwritten: records are never edited in place.
    The reason names the fields whose stored value differs (none when the difference is in a dropped value)."""
    key = quote(table.key)
    store.execute(
        f"INSERT INTO {ERRORS} SELECT t.{ROW}, {lit(table.key)}, 'id ' || '''' || t.{key} || '''' || "
        f"' is already stored with different values' || coalesce(' in ' || nullif({_differing_fields(table)}, ''), "
        f"'') || ' (source ' || s.source_id || ' row ' || s.source_row || ')', 'reject_row' "
        f"FROM {TYPED} t JOIN {quote(table.name)} s ON s.agency = t.agency AND s.{key} = t.{key} "
        f"WHERE s.row_hash <> t.row_hash"
    )
    store.execute(f"DELETE FROM {TYPED} WHERE {ROW} IN ({REJECTED_ROWS})")


def _differing_fields(table: Table) -> str:
    """SQL: the input fields (comma-separated) on which typed row t differs from stored row s."""
    cases = []
    for f in table.input_fields:
        if f.name in {table.key, "agency"} or f.protected:
            continue
        mine = (
            f"coalesce(t.{quote(f.name)}, t.{quote(f.default_from)})"
            if f.default_from
            else f"t.{quote(f.name)}"
        )
        cases.append(f"CASE WHEN {mine} IS DISTINCT FROM s.{quote(f.name)} THEN {lit(f.name)} END")
    return f"concat_ws(', ', {', '.join(cases)})"


def _drop_already_stored(store: Store, table: Table) -> int:
    key = quote(table.key)
    before = store.count(TYPED)
    store.execute(
        f"DELETE FROM {TYPED} t WHERE EXISTS (SELECT 1 FROM {quote(table.name)} s "
        f"WHERE s.agency = t.agency AND s.{key} = t.{key} AND s.row_hash = t.row_hash)"
    )
    return before - store.count(TYPED)


def _forget_values_of_skipped_rows(store: Store) -> None:
    """Dropped values of rows not loaded after all (purged, already stored, repeated) are not kept: the first
    import kept them, and a purged record's values must not come back through rejects."""
    store.execute(
        f"DELETE FROM {ERRORS} WHERE on_bad = 'drop_value' AND {ROW} NOT IN (SELECT {ROW} FROM {TYPED}) "
        f"AND {ROW} NOT IN ({REJECTED_ROWS})"
    )


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


REJECT_COLUMNS = (
    "reject_id, source_id, agency, table_name, file_name, source_row, field, reason, raw, outcome"
)
ROW_REJECTED, VALUE_DROPPED = "row rejected", "value dropped"


def _keep_rejects(store: Store, report: IngestReport, problems: list[RowProblem]) -> None:
    """Every reason for every bad row, and every dropped value, goes to the rejects table with the raw row (so
    nothing is lost); the counts and the first few to the report."""
    file = Path(report.file).name
    if store.scalar(f"SELECT count(*) FROM {ERRORS}"):
        _keep_row_rejects(store, report, file)
    for p in problems:
        store.execute(
            f"INSERT INTO rejects ({REJECT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
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
                ROW_REJECTED,
            ],
        )
    rejected, dropped, dropped_rows = store.rows(
        f"SELECT count(DISTINCT {ROW}) FILTER (WHERE {ROW} IN ({REJECTED_ROWS})), "
        f"count(*) FILTER (WHERE {ROW} NOT IN ({REJECTED_ROWS})), "
        f"count(DISTINCT {ROW}) FILTER (WHERE {ROW} NOT IN ({REJECTED_ROWS})) FROM {ERRORS}"
    )[0]
    report.rejected = int(rejected) + len(problems)
    report.values_dropped, report.rows_with_dropped_values = int(dropped), int(dropped_rows)
    rows = store.rows(
        f"SELECT {ROW}, field, reason, {_outcome_sql()} FROM {ERRORS} ORDER BY {ROW}, field "
        f"LIMIT {SHOWN_PROBLEMS}"
    )
    shown = [
        {"row": p.row, "field": p.field, "reason": p.reason, "outcome": ROW_REJECTED}
        for p in problems[:SHOWN_PROBLEMS]
    ]
    shown += [{"row": r, "field": f, "reason": why, "outcome": what} for r, f, why, what in rows]
    report.problems = sorted(shown, key=lambda p: int(p["row"] or 0))[:SHOWN_PROBLEMS]


def _outcome_sql(alias: str = "") -> str:
    """What a problem cost: its row (a reject_row problem on that row), or only its value (the row loaded)."""
    return (
        f"CASE WHEN {alias}{ROW} IN ({REJECTED_ROWS}) THEN {lit(ROW_REJECTED)} ELSE {lit(VALUE_DROPPED)} END"
    )


def _keep_row_rejects(store: Store, report: IngestReport, file: str) -> None:
    """Each problem with the raw row as JSON (only rows with problems are joined) and what it cost."""
    store.execute(
        f"INSERT INTO rejects ({REJECT_COLUMNS}) SELECT ?::VARCHAR || ':' || e.{ROW} || ':' || "
        f"coalesce(e.field, '') || ':' || row_number() OVER (PARTITION BY e.{ROW}), ?, coalesce(r.agency, ?), ?, "
        f"?, e.{ROW}, e.field, e.reason, to_json(r), {_outcome_sql('e.')} FROM {ERRORS} e LEFT JOIN "
        f"(SELECT * FROM {RAW} WHERE {ROW} IN (SELECT {ROW} FROM {ERRORS})) r USING ({ROW})",
        [report.source_id, report.source_id, report.agency or "", report.table, file],
    )


def _date_rejects(store: Store, settings: Settings, report: IngestReport) -> None:
    """This import's rejects are kept until their review date, like the intelligence records (28 CFR 23.20(h))."""
    store.execute(
        f"UPDATE rejects SET rejected_at = timezone('UTC', now()), review_date = {reject_review_date_sql('now()', settings.safeguards)} "
        "WHERE source_id = ? AND rejected_at IS NULL",
        [report.source_id],
    )


def _record_source(store: Store, report: IngestReport, rules: Mapping | None, digest: str) -> None:
    store.execute(
        "INSERT INTO sources (source_id, agency, table_name, file_name, checksum, mapping, crs, received_at, "
        "rows_read, rows_loaded, rows_rejected, rows_duplicate, values_dropped) "
        "VALUES (?,?,?,?,?,?,?,timezone('UTC', now()),?,?,?,?,?)",
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
            report.values_dropped,
        ],
    )
