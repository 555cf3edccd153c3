"""Ground truth beside the records: a synthetic city's truth files (casegraph.demo writes them) or an evaluation
folder's; each read with the columns its scorer needs, or a clear error naming the file."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from casegraph.errors import CasegraphError


def truth_frame(folder: Path, name: str, columns: tuple[str, ...]) -> pd.DataFrame:
    """folder/<name>.csv as text columns; it must hold `columns`."""
    path = Path(folder) / f"{name}.csv"
    if not path.exists():
        raise CasegraphError(
            f"{folder}: no {name}.csv (a synthetic city written by `casegraph synth` or `casegraph demo` has it)"
        )
    frame = pd.read_csv(path, dtype=str)
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise CasegraphError(f"{path} needs the columns {', '.join(columns)} (missing: {', '.join(missing)})")
    return frame


def missing_truth(folder: Path, names: tuple[str, ...]) -> list[str]:
    """The truth files among `names` that the folder lacks."""
    return [f"{n}.csv" for n in names if not (Path(folder) / f"{n}.csv").exists()]
