"""Read CSV, JSON lines / JSON arrays and Parquet into batches of string columns with a row number.

Every value is read as text so that validation (in SQL, see validate.py) can say exactly which value was
wrong and why; malformed rows (a truncated CSV line, a broken JSON line) are reported, never dropped silently.
"""

from __future__ import annotations

import csv
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from casegraph.errors import IngestError

ROW = "_row"
csv.field_size_limit(64 * 1024 * 1024)  # oversized fields are rejected by validation, not by the reader


@dataclass(frozen=True)
class RowProblem:
    row: int
    field: str | None
    reason: str
    raw: str


@dataclass
class Batch:
    table: pa.Table  # string columns named as in the source, plus _row
    problems: list[RowProblem]
    renumber: pa.Table | None = None  # last batch of the fast CSV path: provisional _row -> true _row


class Restart(Exception):
    """The fast CSV path met what it cannot number exactly (quoted newlines, blank lines): re-read slowly."""


def file_format(path: Path, fmt: str | None = None) -> str:
    fmt = (fmt or path.suffix.lstrip(".")).lower()
    aliases = {
        "csv": "csv",
        "txt": "csv",
        "jsonl": "jsonl",
        "ndjson": "jsonl",
        "json": "json",
        "parquet": "parquet",
    }
    if fmt not in aliases:
        raise IngestError(
            f"{path}: cannot tell the format from '{path.suffix}'; use --format csv|jsonl|parquet"
        )
    return aliases[fmt]


def checksum(path: Path) -> str:
    digest = hashlib.sha256()
    try:
        with path.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
    except OSError as exc:
        raise IngestError(f"{path}: cannot read the file: {exc.strerror or exc}") from exc
    return digest.hexdigest()


def read_batches(
    path: Path, fmt: str, batch_rows: int, encoding: str = "utf-8", fast: bool = True
) -> Iterator[Batch]:
    """Batches of text columns. CSV goes through Arrow's C++ reader when `fast`, else Python's csv module;
    the fast path raises Restart when it cannot give exact row numbers, and the caller re-reads with fast=False."""
    if fmt != "parquet" and encoding.lower().replace("-", "") == "utf8":
        _refuse_binary(path)
    try:
        if fmt == "csv" and fast:
            from casegraph.ingest.fastcsv import arrow_csv_batches

            yield from arrow_csv_batches(path, batch_rows, encoding, _csv_header_of(path, encoding))
            return
        readers = {
            "csv": _csv_batches,
            "jsonl": _jsonl_batches,
            "json": _json_batches,
            "parquet": _parquet_batches,
        }
        yield from readers[fmt](path, batch_rows, encoding)
    except UnicodeDecodeError as exc:
        raise IngestError(
            _encoding_message(path, encoding, f" (byte 0x{exc.object[exc.start]:02x})")
        ) from exc
    except pa.ArrowInvalid as exc:
        if "UTF8" in str(exc) or "utf-8" in str(exc).lower():
            raise IngestError(_encoding_message(path, encoding, "")) from exc
        raise IngestError(f"{path}: unreadable {fmt} file: {exc}") from exc
    except (csv.Error, OSError) as exc:
        raise IngestError(f"{path}: unreadable {fmt} file: {exc}") from exc


def _encoding_message(path: Path, encoding: str, where: str) -> str:
    return f"{path}: not valid {encoding} text{where}; re-save the file as UTF-8 or give its encoding with --encoding"


def _refuse_binary(path: Path) -> None:
    """NUL bytes mean a binary file (or UTF-16 text): refuse it up front instead of loading garbage rows."""
    with path.open("rb") as fh:
        head = fh.read(64 * 1024)
    if b"\x00" in head:
        raise IngestError(
            f"{path}: unreadable text file: it holds NUL bytes (a binary file, or UTF-16 text: give --encoding utf-16)"
        )


def _to_batch(
    header: list[str], records: list[list[str]], rows: list[int], problems: list[RowProblem]
) -> Batch:
    """Rows -> string columns; empty cells become NULL (transposing in C is far faster than per-cell appends)."""
    columns = list(zip(*records, strict=True)) if records else [() for _ in header]
    arrays = {
        name: _nulls_for_empty(pa.array(col, pa.string())) for name, col in zip(header, columns, strict=True)
    }
    arrays[ROW] = pa.array(rows, pa.int64())
    return Batch(pa.table(arrays), problems)


def _nulls_for_empty(array: pa.Array) -> pa.Array:
    return pc.if_else(pc.equal(array, ""), pa.scalar(None, pa.string()), array)


def _csv_header(reader: Any, path: Path) -> list[str]:
    header = next(reader, None)
    if not header or not any(h.strip() for h in header):
        raise IngestError(f"{path}: the file is empty or has no header row")
    header = [h.strip().lstrip("\ufeff") for h in header]
    dupes = sorted({h for h in header if header.count(h) > 1})
    if dupes:
        raise IngestError(f"{path}: the header names these columns twice: {', '.join(dupes)}")
    return header


def _csv_header_of(path: Path, encoding: str) -> list[str]:
    with path.open(newline="", encoding=encoding, errors="strict") as fh:
        return _csv_header(csv.reader(fh), path)


def _csv_batches(path: Path, batch_rows: int, encoding: str) -> Iterator[Batch]:
    with path.open(newline="", encoding=encoding, errors="strict") as fh:
        reader = csv.reader(fh)
        header = _csv_header(reader, path)
        width = len(header)
        records: list[list[str]] = []
        rows: list[int] = []
        problems: list[RowProblem] = []
        for n, record in enumerate(reader, start=1):
            if len(record) != width:
                if record:  # a blank line is not a row
                    problems.append(_width_problem(n, record, width))
                continue
            records.append(record)
            rows.append(n)
            if len(rows) >= batch_rows:
                yield _to_batch(header, records, rows, problems)
                records, rows, problems = [], [], []
        yield _to_batch(header, records, rows, problems)


def _width_problem(n: int, record: list[str], width: int) -> RowProblem:
    kind = "truncated or missing fields" if len(record) < width else "more fields than the header"
    return RowProblem(
        n, None, f"row has {len(record)} fields, the header has {width} ({kind})", json.dumps(record)
    )


def _text(value: Any) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, list):
        return ";".join(str(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value)
    return str(value)


def _records_to_batches(records: Iterator[tuple[int, Any]], batch_rows: int) -> Iterator[Batch]:
    """Shared by JSON lines and JSON arrays: objects become rows, the union of keys becomes the header."""
    pending: list[tuple[int, dict[str, Any]]] = []
    problems: list[RowProblem] = []
    for n, obj in records:
        if isinstance(obj, RowProblem):
            problems.append(obj)
        elif not isinstance(obj, dict):
            problems.append(RowProblem(n, None, "not a JSON object", json.dumps(obj)[:2000]))
        else:
            pending.append((n, obj))
        if len(pending) >= batch_rows:
            yield _objects_batch(pending, problems)
            pending, problems = [], []
    yield _objects_batch(pending, problems)


def _objects_batch(pending: list[tuple[int, dict[str, Any]]], problems: list[RowProblem]) -> Batch:
    header: list[str] = list(dict.fromkeys(k for _, obj in pending for k in obj))
    records = [[_text(obj.get(h)) or "" for h in header] for _, obj in pending]
    return _to_batch(header, records, [n for n, _ in pending], problems)


def _jsonl_records(path: Path, encoding: str) -> Iterator[tuple[int, Any]]:
    with path.open(encoding=encoding, errors="strict") as fh:
        for n, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                yield n, json.loads(line)
            except json.JSONDecodeError as exc:
                yield n, RowProblem(n, None, f"invalid JSON ({exc.msg} at column {exc.colno})", line[:2000])


def _jsonl_batches(path: Path, batch_rows: int, encoding: str) -> Iterator[Batch]:
    yield from _records_to_batches(_jsonl_records(path, encoding), batch_rows)


def _json_batches(path: Path, batch_rows: int, encoding: str) -> Iterator[Batch]:
    text = path.read_text(encoding=encoding)
    if not text.lstrip().startswith("["):
        yield from _jsonl_batches(path, batch_rows, encoding)
        return
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise IngestError(f"{path}: invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from exc
    yield from _records_to_batches(enumerate(data, start=1), batch_rows)


def _parquet_batches(path: Path, batch_rows: int, encoding: str) -> Iterator[Batch]:
    pf = pq.ParquetFile(path)
    start = 1
    for rb in pf.iter_batches(batch_size=batch_rows):
        table = pa.Table.from_batches([rb])
        arrays = {name: _as_text(table.column(name)) for name in table.column_names}
        arrays[ROW] = pa.array(range(start, start + table.num_rows), pa.int64())
        start += table.num_rows
        yield Batch(pa.table(arrays), [])


def _as_text(column: pa.ChunkedArray) -> pa.ChunkedArray:
    if pa.types.is_list(column.type) or pa.types.is_large_list(column.type):
        return pa.chunked_array([[_text(v) for v in column.to_pylist()]], pa.string())
    if pa.types.is_timestamp(column.type):
        return pa.chunked_array([[v.isoformat() if v else None for v in column.to_pylist()]], pa.string())
    return column.cast(pa.string())
