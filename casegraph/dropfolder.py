"""A drop folder for nightly files: each new file is imported once, then moved to done/ (loaded, or already
imported) or to quarantine/ with a .reason.txt beside it (the import failed, or every row was rejected).

A file is read only once it has settled: its size and modification time unchanged for `settle` seconds. Writers
that can should write elsewhere (or under a name ending .part or .tmp, or starting with a dot, which are ignored)
and move the finished file in; a move within one file system is atomic.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from casegraph import pipeline
from casegraph.errors import CasegraphError, IngestError, PolicyDenied
from casegraph.ingest import FOLDER_ORDER
from casegraph.schema import model

if TYPE_CHECKING:
    from casegraph.ingest.report import IngestReport
    from casegraph.settings import Settings
    from casegraph.store import Store

DONE = "done"
QUARANTINE = "quarantine"
SUFFIXES = (".csv", ".jsonl", ".json", ".parquet")
UNFINISHED = (".part", ".tmp")


@dataclass
class FileOutcome:
    file: str
    table: str | None
    status: str  # loaded, already imported, quarantined
    moved_to: str
    loaded: int = 0
    rejected: int = 0
    reason: str | None = None
    problems: list[dict[str, Any]] = field(default_factory=list)


def candidates(folder: Path) -> list[Path]:
    """Record files lying in the folder itself (not done/ or quarantine/), in the order records refer to each
    other (persons before their involvements), then by name."""
    files = [
        p
        for p in folder.iterdir()
        if p.is_file()
        and p.suffix.lower() in SUFFIXES
        and not p.name.startswith(".")
        and not p.name.endswith(UNFINISHED)
    ]
    return sorted(files, key=lambda p: (_order_of(p), p.name))


def _order_of(path: Path) -> int:
    table = table_from_name(path)
    return FOLDER_ORDER.index(table) if table in FOLDER_ORDER else len(FOLDER_ORDER)


def table_from_name(path: Path) -> str | None:
    """The record table a file's name starts with (incidents-2026-11.csv -> incidents), the longest that fits."""
    stem = path.name.lower()
    names = sorted((t.name for t in model.record_tables()), key=len, reverse=True)
    return next((n for n in names if stem.startswith(n) and not stem[len(n) : len(n) + 1].isalpha()), None)


def settled(path: Path, settle: float, now: float | None = None) -> bool:
    """Unchanged for `settle` seconds: a writer that is still appending would have touched it."""
    return (now or time.time()) - path.stat().st_mtime >= settle


def ready_now(folder: Path, settle: float) -> list[Path]:
    """The folder's record files that have settled by now."""
    now = time.time()
    return [p for p in candidates(folder) if p.exists() and settled(p, settle, now)]


def wait_until_settled(path: Path, settle: float) -> None:
    """Sleep until the file has not changed for `settle` seconds (size and time compared before and after)."""
    while True:
        before = path.stat()
        time.sleep(max(0.0, settle - (time.time() - before.st_mtime)))
        after = path.stat()
        if (after.st_size, after.st_mtime_ns) == (before.st_size, before.st_mtime_ns) and settled(
            path, settle
        ):
            return


def import_one(
    store: Store, settings: Settings, path: Path, *, table: str | None, **options: Any
) -> FileOutcome:
    """Import a file and move it to done/ or quarantine/; a bad file never stops the folder."""
    folder = path.parent
    target = table or table_from_name(path)
    try:
        if target is None and not options.get("mapping"):
            raise IngestError(
                f"{path.name}: its name does not start with a record table (e.g. incidents-2026-11.csv); "
                "give --table or --mapping"
            )
        report = pipeline.import_file(store, settings, path, table=target, **options)
    except PolicyDenied:
        raise  # the importer may not add these records: not the file's fault
    except CasegraphError as exc:
        return _quarantine(path, target, str(exc), [])
    if report.loaded == 0 and report.rejected > 0:
        return _quarantine(path, report.table, "every row was rejected", report.problems, report)
    moved = _move(path, folder / DONE)
    return FileOutcome(
        file=path.name,
        table=report.table,
        status="already imported" if report.already_imported else "loaded",
        moved_to=str(moved),
        loaded=report.loaded,
        rejected=report.rejected,
        problems=report.problems,
    )


def _quarantine(
    path: Path,
    table: str | None,
    reason: str,
    problems: list[dict[str, Any]],
    report: IngestReport | None = None,
) -> FileOutcome:
    moved = _move(path, path.parent / QUARANTINE)
    moved.with_name(moved.name + ".reason.txt").write_text(_reason_text(path.name, table, reason, problems))
    return FileOutcome(
        file=path.name,
        table=table,
        status="quarantined",
        moved_to=str(moved),
        rejected=report.rejected if report else 0,
        reason=reason,
        problems=problems,
    )


def _reason_text(name: str, table: str | None, reason: str, problems: list[dict[str, Any]]) -> str:
    lines = [
        f"file: {name}",
        f"table: {table or '(unknown)'}",
        f"quarantined: {datetime.now(UTC):%Y-%m-%d %H:%M:%S} UTC",
        f"reason: {reason}",
    ]
    lines += [f"row {p['row']}: field {p['field'] or '(row)'}: {p['reason']}" for p in problems]
    if problems:
        lines.append("(the first rows rejected; `casegraph rejects` lists them all)")
    return "\n".join(lines) + "\n"


def _move(path: Path, into: Path) -> Path:
    """Move a file into a folder, never over one of the same name (a later file gets a time suffix)."""
    into.mkdir(exist_ok=True)
    target = into / path.name
    if target.exists():
        target = into / f"{path.stem}.{datetime.now(UTC):%Y%m%dT%H%M%S%f}{path.suffix}"
    return path.replace(target)


def import_ready(
    store: Store,
    settings: Settings,
    files: list[Path],
    *,
    table: str | None,
    stop: Callable[[], bool] = lambda: False,
    report: Callable[[FileOutcome], None] = lambda _o: None,
    **options: Any,
) -> list[FileOutcome]:
    """Import files one by one, checking `stop()` between them (Ctrl-C ends the watch between files)."""
    outcomes = []
    for path in files:
        if stop():
            break
        outcome = import_one(store, settings, path, table=table, **options)
        report(outcome)
        outcomes.append(outcome)
    return outcomes


def import_and_update(
    store: Store,
    settings: Settings,
    files: list[Path],
    *,
    table: str | None,
    stop: Callable[[], bool] = lambda: False,
    report: Callable[[FileOutcome], None] = lambda _o: None,
    progress: Any = None,
    **options: Any,
) -> dict[str, Any]:
    """Import the files, then (when a row loaded and no stop was asked) bring the stages up to date:
    {"files": [outcome, ...], "update": update report or None}."""
    from casegraph.update import run_update

    outcomes = import_ready(store, settings, files, table=table, stop=stop, report=report, **options)
    changed = any(o.status == "loaded" for o in outcomes)
    update = run_update(store, settings, progress).as_dict() if changed and not stop() else None
    return {"files": [asdict(o) for o in outcomes], "update": update}
