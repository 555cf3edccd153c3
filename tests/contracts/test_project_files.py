"""The project's own files: packaging metadata current setuptools takes without a deprecation banner, one
version, and a test command that says why tests were skipped."""

from __future__ import annotations

import tomllib
from importlib.metadata import metadata, version
from pathlib import Path

import casegraph

ROOT = Path(__file__).resolve().parents[2]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def test_license_is_an_spdx_expression_with_its_file():
    """`license = { text = ... }` makes setuptools print a deprecation banner at every install."""
    assert PROJECT["license"] == "Apache-2.0"
    assert all((ROOT / name).is_file() for name in PROJECT["license-files"])
    assert metadata("casegraph")["License-Expression"] == "Apache-2.0"


def test_one_version():
    assert "version" in PROJECT["dynamic"] and "version" not in PROJECT
    assert version("casegraph") == casegraph.__version__


def test_the_test_command_reports_why_tests_were_skipped():
    pytest_lines = [line for line in (ROOT / "scripts" / "test").read_text().splitlines() if "pytest" in line]
    assert pytest_lines and all(" -rs" in line for line in pytest_lines)


def test_the_checks_run_the_type_checker_on_the_package():
    check = (ROOT / "scripts" / "check").read_text()
    assert ".venv/bin/mypy" in check
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["mypy"]
    assert config["files"] == ["casegraph"] and config["check_untyped_defs"]
