"""docs/tutorial.md, run as written on ../shared/data: every ```bash block in order in one shell, each ```output
block under it checked line by line against what the commands printed, the pictures made, and the page's claim
about `similar` checked against the police's own offender file. Skipped, saying why, without the data."""

from __future__ import annotations

import csv
import json
import os
import re
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest

from tests.conftest import shared_data

DOCS = Path(__file__).resolve().parents[2] / "docs"
TUTORIAL = DOCS / "tutorial.md"
FENCE = re.compile(r"```(bash|output)\n(.*?)```", re.S)
MARK = "@@@ tutorial block"


def steps() -> list[tuple[str, str | None]]:
    """(commands, the output shown under them or None), in page order."""
    found: list[tuple[str, str | None]] = []
    for kind, body in FENCE.findall(TUTORIAL.read_text()):
        if kind == "bash":
            found.append((body, None))
        else:
            assert found and found[-1][1] is None, "an output block must follow a bash block"
            found[-1] = (found[-1][0], body)
    return found


def squeezed(text: str) -> str:
    return re.sub(r"[ \t]+", " ", text)


def run_tutorial(work: Path, data: Path) -> list[str]:
    """The page's commands in one bash (set -e: a failing command fails the test); each block's output."""
    script = "set -euo pipefail\nexec 2>&1\n" + "".join(
        f"echo '{MARK} {i}'\n{cmds}" for i, (cmds, _) in enumerate(steps())
    )
    env = {**os.environ, "DATA": str(data), "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    env.pop("CASEGRAPH_STORE", None)
    done = subprocess.run(
        ["bash", "-c", script], cwd=work, env=env, capture_output=True, text=True, timeout=900, check=False
    )
    printed = done.stdout + done.stderr
    assert done.returncode == 0, printed[-4000:]
    parts = re.split(rf"^{MARK} \d+$", done.stdout, flags=re.M)[1:]
    assert len(parts) == len(steps())
    return parts


@pytest.mark.realdata
@pytest.mark.slow
def test_the_tutorial_runs_as_written(tmp_path):
    data = shared_data()
    for folder in ("incidents", "crime_series"):
        shared_data(folder)
    outputs = run_tutorial(tmp_path, data)
    for (commands, shown), printed in zip(steps(), outputs, strict=True):
        for line in (shown or "").splitlines():
            if line.strip():
                assert squeezed(line.strip()) in squeezed(printed), (
                    f"{commands.strip()[:200]}\n--- shown: {line}"
                )
    work = tmp_path / "tutorial"
    for picture in re.findall(r"!\[[^\]]*\]\((img/[^)]+)\)", TUTORIAL.read_text()):
        made = work / Path(picture).name
        assert made.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and made.stat().st_size > 10_000, made
        assert (DOCS / picture).exists(), f"docs/{picture}: copy {made.name} there"
    assert_similar_shares_the_offender(work / "israel.duckdb", data)


def assert_similar_shares_the_offender(store: Path, data: Path) -> None:
    """'Every one of the four has the same offender as CID#16980 in the police's own file.'"""
    env = {**os.environ, "CASEGRAPH_STORE": str(store)}
    done = subprocess.run(
        [sys.executable, "-m", "casegraph", "--json", "similar", "CID#16980", "--top", "4"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    offenders = defaultdict(set)
    with (data / "crime_series" / "israel_inp_burglary" / "offender_crime_2020h1.csv").open() as fh:
        for row in csv.DictReader(fh):
            offenders[row["crime_id"]].add(row["offender_id"])
    found = [r["incident_id"] for r in json.loads(done.stdout)["results"]]
    assert len(found) == 4 and all(offenders[i] & offenders["CID#16980"] for i in found), found
