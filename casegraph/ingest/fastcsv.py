"""CSV through Arrow's C++ reader with exact row numbers, or a Restart when exact numbers are not possible.

Good rows get provisional numbers (their ordinal); rows of the wrong width are reported with their physical line.
At the end, when every physical line is accounted for (no quoted newlines, no blank lines), the true row numbers
are the line numbers not taken by bad rows; otherwise Restart asks the caller to re-read with Python's csv module.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pcsv

from casegraph.ingest.readers import ROW, Batch, Restart, RowProblem


def _count_lines(path: Path) -> int:
    """Data lines: newline count (plus a last line without one), minus the header."""
    lines, last = 0, b"\n"
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 22), b""):
            lines += block.count(b"\n")
            last = block[-1:]
    return lines + (last != b"\n") - 1


def arrow_csv_batches(path: Path, batch_rows: int, encoding: str, header: list[str]) -> Iterator[Batch]:
    bad: list[RowProblem] = []
    width = len(header)

    def on_invalid(row: pcsv.InvalidRow) -> str:
        kind = "truncated or missing fields" if row.actual_columns < width else "more fields than the header"
        reason = f"row has {row.actual_columns} fields, the header has {width} ({kind})"
        bad.append(RowProblem((row.number or 0) - 1, None, reason, row.text or ""))
        return "skip"

    reader = pcsv.open_csv(
        path,
        read_options=pcsv.ReadOptions(use_threads=False, block_size=1 << 24, encoding=encoding),
        parse_options=pcsv.ParseOptions(invalid_row_handler=on_invalid, newlines_in_values=True),
        convert_options=pcsv.ConvertOptions(
            column_types={h: pa.string() for h in header}, strings_can_be_null=True, null_values=[""]
        ),
    )
    seen = 0
    for rb in reader:
        table = pa.Table.from_batches([rb])
        table = table.append_column(ROW, pa.array(np.arange(seen + 1, seen + 1 + rb.num_rows), pa.int64()))
        seen += rb.num_rows
        yield Batch(table, [])
    yield _last_batch(path, header, seen, bad)


def _last_batch(path: Path, header: list[str], good: int, bad: list[RowProblem]) -> Batch:
    if good + len(bad) != _count_lines(path) or any(p.row <= 0 for p in bad):
        raise Restart(str(path))
    empty = pa.table({**{h: pa.array([], pa.string()) for h in header}, ROW: pa.array([], pa.int64())})
    if not bad:
        return Batch(empty, [])
    taken = np.array(sorted(p.row for p in bad))
    rows = np.setdiff1d(np.arange(1, good + len(bad) + 1), taken)
    mapping = pa.table({"_provisional": np.arange(1, good + 1), ROW: rows})
    return Batch(empty, bad, renumber=mapping)
