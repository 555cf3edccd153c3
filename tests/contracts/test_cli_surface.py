"""The CLI answers --help for every verb (a broken import or signature shows up here first), without value
noise after flags, without loading the heavy libraries, and says its version."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib.metadata import version

import typer
from typer.testing import CliRunner

from casegraph.cli import app

runner = CliRunner()
HEAVY = ("duckdb", "pandas", "pyarrow", "scipy", "igraph", "sklearn", "splink", "matplotlib", "fastapi")


def every_command_path() -> list[list[str]]:
    """The argument lists that reach each group and verb: [], ["eval"], ["eval", "city"], ..."""
    root = typer.main.get_command(app)
    paths, todo = [], [([], root)]
    while todo:
        path, command = todo.pop()
        paths.append(path)
        for name, sub in getattr(command, "commands", {}).items():
            todo.append(([*path, name], sub))
    return sorted(paths)


def test_every_verb_has_help():
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for verb in (
        "init",
        "ingest",
        "status",
        "schema",
        "rejects",
        "export",
        "synth",
        "demo",
        "eval",
        "update",
        "watch",
    ):
        assert verb in result.output
        assert runner.invoke(app, [verb, "--help"]).exit_code == 0, verb


def test_no_flag_shows_a_value_in_help():
    """`--json <bool>` reads as if the flag took a value; a flag is just its name."""
    for path in every_command_path():
        result = runner.invoke(app, [*path, "--help"], terminal_width=200)
        assert result.exit_code == 0, path
        assert "<bool>" not in result.output, (path, result.output)


def test_help_loads_no_heavy_library():
    """`casegraph --help` and every verb's --help in a fresh interpreter: none of the libraries that take
    seconds to import (they are imported by the verb that runs)."""
    code = (
        "import json, sys\n"
        "from casegraph.cli import app\n"
        f"for path in {json.dumps(every_command_path())}:\n"
        "    try:\n"
        "        app([*path, '--help'])\n"
        "    except SystemExit:\n"
        "        pass\n"
        f"print(json.dumps(sorted(m for m in {list(HEAVY)!r} if m in sys.modules)))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []


def test_version():
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.stdout.strip() == f"casegraph {version('casegraph')}"
