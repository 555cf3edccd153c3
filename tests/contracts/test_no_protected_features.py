"""No protected or refused field reaches a feature, comparison, blocking key or reason for a link.

Three layers: (1) each stage declares the schema fields its features and blocking keys come from
(FEATURE_FIELDS, BLOCKING_FIELDS, COMPARISON_FIELDS, LINK_REASON_FIELDS: {table: [fields]} or
["table.field"]) and none may be protected; (2) no stage's code names a protected field in any string (SQL,
settings) outside docstrings; (3) at run time the guarded store hides protected fields (tests/unit).
"""

from __future__ import annotations

import ast
import importlib
import re
from pathlib import Path

import pytest

from casegraph.safeguards.protected import declared_field_problems, stage_declarations
from casegraph.schema import model

STAGES = ("ingest", "resolve", "linkage", "network", "trends", "export")
ROOT = Path(__file__).resolve().parents[2] / "casegraph"
PROTECTED = sorted({f for _, f in model.protected_fields()})


def _strings(path: Path) -> list[tuple[int, str]]:
    """String constants of a module, docstrings left out."""
    tree = ast.parse(path.read_text())
    docs = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
        and node.body
        and isinstance(node.body[0], ast.Expr)
    }
    return [
        (n.lineno, n.value)
        for n in ast.walk(tree)
        if isinstance(n, ast.Constant) and isinstance(n.value, str) and id(n) not in docs
    ]


@pytest.mark.parametrize("stage", STAGES[1:5])
def test_declared_features_and_keys_are_not_protected(stage):
    module = importlib.import_module(f"casegraph.{stage}")
    for name, declared in stage_declarations(module).items():
        assert declared_field_problems(declared) == [], f"casegraph.{stage}.{name}"


@pytest.mark.parametrize("stage", [s for s in STAGES if s != "ingest"])
def test_no_stage_names_a_protected_field(stage):
    pattern = re.compile(r"\b(" + "|".join(PROTECTED) + r")\b")
    found = [
        f"{path.relative_to(ROOT)}:{line}: {text[:80]!r}"
        for path in sorted((ROOT / stage).rglob("*.py"))
        for line, text in _strings(path)
        if pattern.search(text)
    ]
    assert found == [], "a protected field is named in stage code:\n" + "\n".join(found)


def test_the_check_would_catch_one(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text('"""Never uses race."""\nSQL = "SELECT p.race FROM person_records p"\n')
    assert [line for line, text in _strings(bad) if "race" in text] == [2]
    assert declared_field_problems({"person_records": ["dob", "race"]}) != []
