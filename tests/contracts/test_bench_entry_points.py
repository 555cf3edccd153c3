"""Every benchmark's entry point (`bench/<name>/run.py`, what `bench/run` calls, and the other scripts beside it)
still imports and parses its arguments: benchmarks are too slow for CI, so this is what keeps them from rotting
between runs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ENTRY_POINTS = sorted((ROOT / "bench").glob("*/run.py"))
# the command-line scripts; a peer.py runs in the peer's own environment (bench/<name>/peer-venv), not ours
SCRIPTS = sorted(
    p
    for p in (ROOT / "bench").glob("*/*.py")
    if "argparse.ArgumentParser" in p.read_text() and p.name != "peer.py"
)


def test_every_benchmark_folder_has_an_entry_point():
    folders = {p.name for p in (ROOT / "bench").iterdir() if p.is_dir() and not p.name.startswith(".")}
    runnable = {p.parent.name for p in ENTRY_POINTS} | {p.parent.name for p in (ROOT / "bench").glob("*/run")}
    assert folders - runnable <= {"results"}  # results/ (git-ignored) holds what they write


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_benchmark_entry_point_answers_help(script: Path, tmp_path: Path):
    # run from an empty folder: a script that took --help for a path would write there, not into the checkout
    done = subprocess.run(
        [sys.executable, str(script), "--help"], capture_output=True, text=True, timeout=120, cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert not any(tmp_path.iterdir()), f"{script.name} --help wrote files"
    assert "usage" in done.stdout.lower(), done.stdout[:500]
