"""Protected and refused fields are never features, comparisons, blocking keys or reasons for a link.

The guard already hides protected fields from every guarded read (views.py); this module is the declared
half: stages expose the schema fields their features and blocking keys are computed from, as module
attributes, and tests/contracts/test_no_protected_features.py checks them with `declared_field_problems`:

    FEATURE_FIELDS = {"incidents": ["offence", "occurred_from", "x", "y", "mo_entry"]}
    BLOCKING_FIELDS = ("person_records.dob", "person_records.family_name")
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import ModuleType

from casegraph.errors import PolicyDenied
from casegraph.schema import model, refused_concept

DECLARATIONS = ("FEATURE_FIELDS", "BLOCKING_FIELDS", "COMPARISON_FIELDS", "LINK_REASON_FIELDS")
Declared = Mapping[str, Iterable[str]] | Iterable[str]


def field_problem(table: str, name: str) -> str | None:
    """Why `table.name` may not be used as a feature or key, or None when it may."""
    concept = refused_concept(model, name)
    if concept:
        return f"{table}.{name} is a refused concept ({concept}): never stored, never used"
    known = model.tables.get(table)
    if known is None:
        return f"{table}.{name}: no table {table} in the schema (declare the schema fields a feature is built from)"
    if name not in known.by_name:
        return f"{table}.{name}: no such field (declare the schema fields a feature is built from)"
    if known.field(name).protected:
        return (
            f"{table}.{name} is protected: a reported description, never a feature, key or reason for a link"
        )
    return None


def _pairs(declared: Declared) -> list[tuple[str, str]]:
    if isinstance(declared, Mapping):
        return [
            (t, f)
            for t, fields in declared.items()
            for f in ([fields] if isinstance(fields, str) else fields)
        ]
    out = []
    for item in declared:
        table, _, name = str(item).partition(".")
        out.append((table, name) if name else ("", table))
    return out


def declared_field_problems(declared: Declared) -> list[str]:
    """Problems with a declaration: {table: [fields]} or ["table.field", ...]."""
    return [p for t, f in _pairs(declared) if (p := field_problem(t, f))]


def assert_not_protected(table: str, fields: Iterable[str], *, use: str = "feature") -> None:
    """Raise PolicyDenied if any field is protected, refused or unknown; stages call it on their lists."""
    problems = declared_field_problems({table: list(fields)})
    if problems:
        raise PolicyDenied(f"cannot use as {use}: " + "; ".join(problems))


def stage_declarations(module: ModuleType) -> dict[str, Declared]:
    """The FEATURE_FIELDS / BLOCKING_FIELDS ... a stage module exposes."""
    return {name: getattr(module, name) for name in DECLARATIONS if hasattr(module, name)}
