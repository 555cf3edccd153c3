"""The files that make up one store, and replacing all of them at once: the demo starts from an empty store,
and a file of the old one left behind (its audit anchor above all) makes the new one refuse to open."""

from __future__ import annotations

import fcntl
import json
import shlex
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from casegraph.errors import CasegraphError
from casegraph.safeguards.audit import anchor_path, key_path

if TYPE_CHECKING:
    from casegraph.settings import Settings

DEMO_MARK = ".demo"  # beside a store the demo made: <store>.demo


def store_files(settings: Settings) -> list[Path]:
    """Every file of the store at settings.store.path, whether it exists or not: DuckDB's file, write-ahead
    log and spill folder; the audit log's anchor and key (and their half-written copies); the demo's mark. A store made by an
    earlier version may also have the workspace's signing secret beside it (<store>.api-secret)."""
    path = settings.store.path
    files = [Path(path), Path(f"{path}.wal"), Path(f"{path}.tmp"), Path(f"{path}{DEMO_MARK}")]
    for side in (anchor_path(settings, path), key_path(settings, path)):
        if side is not None:
            files += [side, side.with_name(side.name + ".tmp")]
    return [*files, Path(f"{path}.api-secret")]


def in_use(path: Path) -> bool:
    """True when another process holds the store open (DuckDB keeps a write lock on the file)."""
    try:
        with path.open("rb+") as fh:
            fcntl.lockf(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    except OSError:
        return False
    return False


def replace_demo_store(settings: Settings, city: Path) -> list[Path]:
    """Remove every file of the demo's previous store, then mark the (new) store as the demo's; returns what
    was removed. Refuses, saying what to do, when the store is not one the demo made or is open elsewhere."""
    files = store_files(settings)
    present = [f for f in files if f.exists() or f.is_symlink()]
    store, mark = files[0], Path(f"{settings.store.path}{DEMO_MARK}")
    if present and not mark.exists():
        raise CasegraphError(
            f"{store} is not a store made by `casegraph demo` (there is no {mark.name} beside it), so the demo "
            "will not replace it. Run the demo into a new folder (`scripts/demo --out demo-new`), or, if you "
            f"no longer need that store, remove it with every file beside it: rm -r {_quoted(present)}"
        )
    if store.exists() and in_use(store):
        raise CasegraphError(
            f"{store} is open in another process (is `scripts/demo --serve` or `casegraph serve` still running "
            "on it?): stop that process (Ctrl-C in its terminal), then run the demo again"
        )
    for f in present:
        if f.is_dir() and not f.is_symlink():
            shutil.rmtree(f)
        else:
            f.unlink()
    mark.parent.mkdir(parents=True, exist_ok=True)
    made = {"made_by": "casegraph demo", "city": str(city), "at": datetime.now(UTC).isoformat()}
    mark.write_text(json.dumps(made) + "\n")
    return present


def _quoted(paths: list[Path]) -> str:
    return " ".join(shlex.quote(str(p)) for p in paths)
