"""Validation and typing of raw (all-text) rows as SQL builders: one pass finds every bad value.

Each check is a CASE expression yielding {field, reason} or NULL; a row with any such entry is rejected and
every reason is kept (file, row, field, reason), so an analyst can fix the source in one go.
"""

from __future__ import annotations

from datetime import datetime

from casegraph.ingest.readers import ROW
from casegraph.schema import Field, Table, model
from casegraph.store import quote
from casegraph.store.ddl import SQL_TYPES

RAW = "_tmp_ingest_raw"


def lit(value: object) -> str:
    """A SQL string literal. Values come from the schema or mapping files, never typed by a remote user."""
    return "'" + str(value).replace("'", "''") + "'"


def parsed_sql(f: Field, formats: dict[str, str]) -> str:
    """Expression turning the raw text column into the field's type (NULL where it does not parse)."""
    c = quote(f.name)
    fmt = formats.get(f.name)
    if f.type == "int":
        return f"TRY_CAST(trim({c}) AS BIGINT)"
    if f.type == "float":
        return f"TRY_CAST(trim({c}) AS DOUBLE)"
    if f.type == "bool":
        return f"TRY_CAST(trim({c}) AS BOOLEAN)"
    if f.type == "date":
        if fmt:
            return f"CAST(try_strptime(trim({c}), {lit(fmt)}) AS DATE)"
        return f"coalesce(TRY_CAST(trim({c}) AS DATE), CAST(TRY_CAST(trim({c}) AS TIMESTAMP) AS DATE))"
    if f.type == "timestamp":
        return f"try_strptime(trim({c}), {lit(fmt)})" if fmt else f"TRY_CAST(trim({c}) AS TIMESTAMP)"
    if f.type == "code":
        return f"lower(trim({c}))"
    if f.type == "list":
        return f"list_filter(list_transform(string_split({c}, ';'), x -> trim(x)), x -> x <> '')"
    if f.type == "id":
        return f"trim({c})"
    return c


def _checks(
    f: Field, formats: dict[str, str], now_limit: datetime, present: set[str]
) -> list[tuple[str, str]]:
    """(condition, reason expression) pairs for one field."""
    c, p = quote(f.name), parsed_sql(f, formats)
    checks: list[tuple[str, str]] = []
    if f.required:
        checks.append((f"{c} IS NULL OR trim({c}) = ''", lit("required value is missing")))
    if f.type in {"int", "float", "bool", "date", "timestamp"}:
        expected = formats.get(f.name) or {"date": "YYYY-MM-DD", "timestamp": "YYYY-MM-DD[ HH:MM:SS]"}.get(
            f.type, f.type
        )
        checks.append(
            (
                f"{c} IS NOT NULL AND trim({c}) <> '' AND {p} IS NULL",
                f"'not a valid {f.type} (expected {expected}): ' || left({c}, 80)",
            )
        )
    if f.min is not None or f.max is not None:
        lo, hi = f.min if f.min is not None else "-inf", f.max if f.max is not None else "inf"
        checks.append((f"{p} < {lo}::DOUBLE OR {p} > {hi}::DOUBLE", f"'out of range [{lo}, {hi}]: ' || {c}"))
    if f.max_length:
        checks.append(
            (
                f"length({c}) > {f.max_length}",
                f"'longer than {f.max_length} characters (' || length({c}) || ')'",
            )
        )
    if f.vocabulary and f.type == "code":
        codes = ", ".join(lit(v) for v in model.vocabulary(f.vocabulary))
        checks.append(
            (
                f"{p} IS NOT NULL AND {p} <> '' AND {p} NOT IN ({codes})",
                f"'unknown code ' || '''' || {c} || '''' || '; expected one of: ' || {lit(_short(f.vocabulary))}",
            )
        )
    if f.vocabulary and f.type == "list":
        codes = ", ".join(lit(v) for v in model.vocabulary(f.vocabulary))
        bad = f"list_filter({p}, x -> x NOT IN ({codes}))"
        checks.append((f"len({bad}) > 0", f"'unknown code(s) ' || array_to_string({bad}, ', ')"))
    if f.not_future:
        checks.append((f"{p} > TIMESTAMP {lit(now_limit.isoformat(sep=' '))}", f"'in the future: ' || {c}"))
    if f.not_before and f.not_before in present:
        other = parsed_sql(_field_of(f, f.not_before), formats)
        checks.append((f"{p} < {other}", lit(f"{f.name} is before {f.not_before}")))
    return checks


def _short(vocabulary: str) -> str:
    values = model.vocabulary(vocabulary)
    return ", ".join(values[:12]) + (" ..." if len(values) > 12 else "")


def _field_of(f: Field, name: str) -> Field:
    for table in model.tables.values():
        if f in table.fields:
            return table.field(name)
    raise KeyError(name)


def errors_sql(table: Table, present: set[str], formats: dict[str, str], now_limit: datetime) -> str:
    """SELECT _row, field, reason, raw for every failed check, in one pass over the raw rows."""
    entries = []
    for f in table.input_fields:
        if f.name not in present:
            continue
        for cond, reason in _checks(f, formats, now_limit, present):
            entries.append(f"CASE WHEN {cond} THEN {{'field': {lit(f.name)}, 'reason': {reason}}} END")
    if not entries:
        return f"SELECT {ROW}, NULL::VARCHAR AS field, NULL::VARCHAR AS reason FROM {RAW} WHERE false"
    found = f"list_filter([{', '.join(entries)}], e -> e IS NOT NULL)"
    return (
        f"SELECT {ROW}, e.field AS field, e.reason AS reason FROM "
        f"(SELECT {ROW}, unnest({found}) AS e FROM {RAW})"
    )


def duplicate_keys_sql(table: Table) -> str:
    """Rows whose (agency, key) appeared earlier in the same file."""
    key = quote(table.key)
    return (
        f"SELECT {ROW}, {lit(table.key)} AS field, 'duplicate id ' || '''' || k || '''' || "
        f"' in this file (first at row ' || first_row || ')' AS reason FROM ("
        f"SELECT {ROW}, trim({key}) AS k, min({ROW}) OVER (PARTITION BY agency, trim({key})) AS first_row "
        f"FROM {RAW}) WHERE {ROW} > first_row"
    )


def typed_select_sql(table: Table, present: set[str], formats: dict[str, str]) -> str:
    """Typed, hashed rows: the schema's fields in order (absent ones NULL), with _row and row_hash."""
    cols = []
    for f in table.input_fields:
        value = parsed_sql(f, formats) if f.name in present else f"NULL::{SQL_TYPES[f.type]}"
        cols.append(f"{value} AS {quote(f.name)}")
    hashed = ", ".join(
        f"coalesce(CAST({quote(f.name)} AS VARCHAR), '')" for f in table.input_fields if f.name in present
    )
    return f"SELECT {ROW}, {', '.join(cols)}, sha256(concat_ws(chr(31), {hashed})) AS row_hash FROM {RAW}"
