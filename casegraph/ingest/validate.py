"""Validation and typing of raw (all-text) rows as SQL builders: one pass finds every bad value.

Each check yields (row, field, reason, on_bad) for every failed value, and every reason is kept (file, row, field,
reason), so an analyst can fix the source in one go. The field's `on_bad` rule (schema) says what the failure
costs: the whole row (reject_row), or only that value, the row loading with the field empty (drop_value).
"""

from __future__ import annotations

from datetime import datetime

from casegraph.ingest.readers import ROW
from casegraph.schema import Field, Table, model
from casegraph.schema.identifiers import IMEI_LENGTH
from casegraph.store import quote
from casegraph.store.ddl import SQL_TYPES

RAW = "_tmp_ingest_raw"
PARSED = "_tmp_ingest_parsed"


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
    if f.check == "imei":
        return f"regexp_replace(trim({c}), '[ -]', '', 'g')"
    return c


def imei_invalid_sql(p: str) -> str:
    """True where a (separator-free) IMEI is not 15 digits with a valid Luhn check digit
    (casegraph.schema.identifiers.is_valid_imei in SQL): every second digit from the right doubled."""
    digit = f"TRY_CAST(substr({p}, i::INTEGER, 1) AS INTEGER)"
    doubled = (
        f"CASE WHEN i % 2 = 0 THEN 2 * {digit} - CASE WHEN {digit} >= 5 THEN 9 ELSE 0 END ELSE {digit} END"
    )
    luhn = f"list_sum(list_transform(range(1, {IMEI_LENGTH + 1}), i -> {doubled}))"
    return f"NOT regexp_full_match({p}, '[0-9]{{{IMEI_LENGTH}}}') OR {luhn} % 10 <> 0"


def parsed_name(name: str) -> str:
    return quote(f"{name}__p")


def parse_sql(table: Table, present: set[str], formats: dict[str, str]) -> str:
    """Raw text plus each present field parsed once (`<field>__p`); checks and the typed rows read these."""
    parsed = [
        f"{parsed_sql(f, formats)} AS {parsed_name(f.name)}" for f in table.input_fields if f.name in present
    ]
    return f"SELECT *, {', '.join(parsed)} FROM {RAW}"


def _checks(
    f: Field, formats: dict[str, str], now_limit: datetime, present: set[str]
) -> list[tuple[str, str]]:
    """(condition, reason expression) pairs for one field, over the parsed table."""
    c, p = quote(f.name), parsed_name(f.name)
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
    if f.check == "imei":
        checks.append(
            (
                f"{p} IS NOT NULL AND {p} <> '' AND ({imei_invalid_sql(p)})",
                f"'not a valid IMEI (15 digits with a Luhn check digit): ' || left({c}, 40)",
            )
        )
    if f.not_future:
        checks.append((f"{p} > TIMESTAMP {lit(now_limit.isoformat(sep=' '))}", f"'in the future: ' || {c}"))
    if f.not_before and f.not_before in present:
        checks.append((f"{p} < {parsed_name(f.not_before)}", lit(f"{f.name} is before {f.not_before}")))
    return checks


def _short(vocabulary: str) -> str:
    values = model.vocabulary(vocabulary)
    return ", ".join(values[:12]) + (" ..." if len(values) > 12 else "")


def errors_sql(table: Table, present: set[str], formats: dict[str, str], now_limit: datetime) -> str:
    """SELECT _row, field, reason for every failed check. One narrow SELECT per check, joined by UNION ALL:
    each scans only the columns it needs, which a column store does far faster than one wide pass."""
    selects = [
        f"SELECT {ROW}, NULL::VARCHAR AS field, NULL::VARCHAR AS reason, NULL::VARCHAR AS on_bad "
        f"FROM {PARSED} WHERE false"
    ]
    for f in table.input_fields:
        if f.name not in present:
            continue
        for cond, reason in _checks(f, formats, now_limit, present):
            selects.append(
                f"SELECT {ROW}, {lit(f.name)}, {reason}, {lit(f.on_bad)} FROM {PARSED} WHERE {cond}"
            )
    return " UNION ALL ".join(selects)


def _repeats_sql(table: Table, present: set[str]) -> str:
    """Rows whose (agency, key) appeared earlier in the same file, with the fields (as read) on which each differs
    from that first row: `differs` is '' for an exact repeat."""
    key = quote(table.key)
    compared = [
        f.name for f in table.input_fields if f.name in present and f.name not in {table.key, "agency"}
    ]
    differs = ", ".join(
        f"CASE WHEN r.{quote(n)} IS DISTINCT FROM f.{quote(n)} THEN {lit(n)} END" for n in compared
    )
    return (
        f"SELECT d.{ROW}, d.k, d.first_row, concat_ws(', ', {differs or 'NULL'}) AS differs FROM ("
        f"SELECT {ROW}, trim({key}) AS k, min({ROW}) OVER (PARTITION BY agency, trim({key})) AS first_row "
        f"FROM {RAW}) d JOIN {RAW} r ON r.{ROW} = d.{ROW} JOIN {RAW} f ON f.{ROW} = d.first_row "
        f"WHERE d.{ROW} > d.first_row"
    )


def conflicting_keys_sql(table: Table, present: set[str]) -> str:
    """A later row with an id seen earlier in the file and other values: rejected, naming the fields that differ
    (the first row is the one kept)."""
    return (
        f"SELECT {ROW}, {lit(table.key)} AS field, 'id ' || '''' || k || '''' || ' conflicts with row ' || "
        f"first_row || ' of this file on ' || differs || ' (row ' || first_row || ' is kept)' AS reason, "
        f"'reject_row' AS on_bad FROM ({_repeats_sql(table, present)}) WHERE differs <> ''"
    )


def repeated_rows_sql(table: Table, present: set[str]) -> str:
    """Rows that repeat an earlier row of the file exactly: nothing to keep, they are skipped and counted."""
    return f"SELECT {ROW} FROM ({_repeats_sql(table, present)}) WHERE differs = ''"


def typed_select_sql(table: Table, present: set[str]) -> str:
    """Typed, hashed rows: the schema's fields in order (absent ones NULL), with _row and row_hash."""
    cols = []
    for f in table.input_fields:
        value = parsed_name(f.name) if f.name in present else f"NULL::{SQL_TYPES[f.type]}"
        cols.append(f"{value} AS {quote(f.name)}")
    hashed = ", ".join(
        f"coalesce(CAST({quote(f.name)} AS VARCHAR), '')" for f in table.input_fields if f.name in present
    )
    return f"SELECT {ROW}, {', '.join(cols)}, md5(concat_ws(chr(31), {hashed})) AS row_hash FROM {PARSED}"
