"""The schema as data: tables and fields declared once in YAML, loaded and checked here.

DDL, ingest validation, docs and the API's field lists are all generated from this model.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import Any

import yaml

from casegraph.errors import SchemaError

TYPES = {"id", "string", "text", "code", "list", "int", "float", "date", "timestamp", "bool", "json"}
TABLE_KINDS = {"record", "system", "derived"}
FIELD_KEYS = {
    "type",
    "required",
    "max_length",
    "vocabulary",
    "min",
    "max",
    "description",
    "protected",
    "sensitive",
    "feature",
    "matchable",
    "not_future",
    "not_before",
    "references",
    "default_from",
    "owner_of",
    "on_bad",
    "check",
}
# What ingest does with a bad value: refuse the whole row, or load the row with that field empty (the bad value
# kept in rejects). A record with one bad field is still evidence, so only the fields that say which record it is
# (the key, ids, references, required fields) refuse the row unless the schema says otherwise.
ON_BAD = ("reject_row", "drop_value")
# Named value checks a field can declare (`check: imei`); ingest implements each as a validation rule.
CHECKS = {"imei"}
# Columns every record row carries so its origin can always be shown (FtM-style provenance).
PROVENANCE_FIELDS: dict[str, dict[str, Any]] = {
    "agency": {"type": "code", "required": True, "max_length": 64, "description": "Owning agency"},
    "source_id": {"type": "id", "required": True, "description": "Imported file (sources.source_id)"},
    "source_row": {"type": "int", "required": True, "description": "1-based data row in that file"},
    "row_hash": {
        "type": "string",
        "required": True,
        "description": "md5 of the row's values as read (detects a changed re-export of the same id)",
    },
    "ingested_at": {"type": "timestamp", "required": True, "description": "When the row was stored"},
}


# Every derived row (and a few system tables' rows: `scoped: true`) says whose run made it: an agency or a task
# force on a server store, where a run replaces its own scope's rows and nothing else; 'local' when embedded.
SCOPE_FIELD: dict[str, Any] = {
    "type": "code",
    "required": True,
    "max_length": 64,
    "description": "Whose run made the row: an agency or a task force (server); 'local' in an embedded store",
}
LOCAL_SCOPE = "local"


@dataclass(frozen=True)
class Field:
    name: str
    type: str
    required: bool = False
    max_length: int | None = None
    vocabulary: str | None = None
    min: float | None = None
    max: float | None = None
    description: str = ""
    protected: bool = False
    sensitive: bool = False
    feature: bool = False
    matchable: bool = False
    not_future: bool = False
    not_before: str | None = None
    references: str | None = None
    default_from: str | None = None
    owner_of: str | None = None  # on an agency column: the id column whose record this agency owns
    check: str | None = None  # a named value check (CHECKS), e.g. imei: 15 digits, Luhn
    provenance: bool = False
    on_bad: str = ""  # reject_row or drop_value (see ON_BAD); set from the field's kind when not declared

    def identifies(self, key: str) -> bool:
        """Whether the field says which record a row is: a bad value here cannot be dropped."""
        return (
            self.name == key
            or self.required
            or self.provenance
            or self.type == "id"
            or bool(self.references or self.owner_of)
        )


@dataclass(frozen=True)
class Table:
    name: str
    kind: str
    key: str
    description: str
    fields: tuple[Field, ...]
    provenance: bool = False
    sensitive: bool = False
    scoped: bool = False

    @cached_property
    def stage_fields(self) -> list[Field]:
        """The fields a stage computes: all but the scope, which the store stamps on every row it writes."""
        return [f for f in self.fields if f.name != "scope"]

    @cached_property
    def by_name(self) -> dict[str, Field]:
        return {f.name: f for f in self.fields}

    def field(self, name: str) -> Field:
        try:
            return self.by_name[name]
        except KeyError:
            raise SchemaError(f"table {self.name} has no field {name!r}") from None

    @property
    def field_names(self) -> list[str]:
        return [f.name for f in self.fields]

    @property
    def input_fields(self) -> list[Field]:
        """Fields a source file supplies (provenance other than agency is stamped by ingest)."""
        return [f for f in self.fields if not f.provenance or f.name == "agency"]

    @property
    def protected_fields(self) -> list[str]:
        return [f.name for f in self.fields if f.protected]


@dataclass
class Model:
    tables: dict[str, Table]
    vocabularies: dict[str, Any]
    refused: dict[str, Any] = field(default_factory=dict)

    def table(self, name: str) -> Table:
        try:
            return self.tables[name]
        except KeyError:
            known = ", ".join(sorted(self.tables))
            raise SchemaError(f"unknown table {name!r}; known tables: {known}") from None

    def record_tables(self) -> list[Table]:
        return [t for t in self.tables.values() if t.kind == "record"]

    def vocabulary(self, name: str) -> list[str]:
        return list(self.vocabularies[name])

    def protected_fields(self) -> set[tuple[str, str]]:
        return {(t.name, f.name) for t in self.tables.values() for f in t.fields if f.protected}


def _field(table: str, name: str, spec: dict[str, Any], vocabularies: dict[str, Any]) -> Field:
    unknown = set(spec) - FIELD_KEYS
    if unknown:
        raise SchemaError(f"{table}.{name}: unknown field keys {sorted(unknown)}")
    if spec.get("type") not in TYPES:
        raise SchemaError(f"{table}.{name}: type {spec.get('type')!r} is not one of {sorted(TYPES)}")
    if spec.get("check") is not None and spec["check"] not in CHECKS:
        raise SchemaError(f"{table}.{name}: check {spec['check']!r} is not one of {sorted(CHECKS)}")
    vocab = spec.get("vocabulary")
    if vocab is not None and vocab not in vocabularies:
        raise SchemaError(f"{table}.{name}: vocabulary {vocab!r} is not declared")
    if spec.get("protected") and (spec.get("feature") or spec.get("matchable")):
        raise SchemaError(f"{table}.{name}: a protected field can be neither a feature nor matchable")
    if spec.get("on_bad", ON_BAD[0]) not in ON_BAD:
        raise SchemaError(f"{table}.{name}: on_bad {spec['on_bad']!r} is not one of {', '.join(ON_BAD)}")
    return Field(name=name, **spec)


def _with_on_bad(f: Field, key: str, table: str) -> Field:
    """The field's rule for a bad value: as declared, else reject_row for identifying fields, drop_value else."""
    if f.on_bad == "drop_value" and f.identifies(key):
        raise SchemaError(
            f"{table}.{f.name}: on_bad drop_value is not allowed on a key, id, reference or required field "
            "(a row without it cannot say which record it is)"
        )
    return replace(f, on_bad=f.on_bad or ("reject_row" if f.identifies(key) else "drop_value"))


def _table(spec: dict[str, Any], vocabularies: dict[str, Any]) -> Table:
    name = spec["name"]
    if spec.get("kind") not in TABLE_KINDS:
        raise SchemaError(f"{name}: kind must be one of {sorted(TABLE_KINDS)}")
    fields = [_field(name, n, s or {}, vocabularies) for n, s in spec["fields"].items()]
    if spec.get("provenance"):
        fields[1:1] = [Field(name=n, provenance=True, **s) for n, s in PROVENANCE_FIELDS.items()]
    if spec.get("scoped", spec["kind"] == "derived"):
        fields.append(Field(name="scope", **SCOPE_FIELD))
    fields = [_with_on_bad(f, spec["key"], name) for f in fields]
    table = Table(
        name=name,
        kind=spec["kind"],
        key=spec["key"],
        description=spec.get("description", ""),
        fields=tuple(fields),
        provenance=bool(spec.get("provenance")),
        sensitive=bool(spec.get("sensitive")),
        scoped=bool(spec.get("scoped", spec["kind"] == "derived")),
    )
    table.field(table.key)  # the key must be a declared field
    for f in table.fields:
        if f.owner_of:
            table.field(f.owner_of)  # an agency column owns the record of a declared id column
    return table


def _check_references(tables: dict[str, Table]) -> None:
    for t in tables.values():
        for f in t.fields:
            if f.references and f.references not in tables:
                raise SchemaError(f"{t.name}.{f.name} references unknown table {f.references}")
            for other in (f.not_before, f.default_from):
                if other and other not in t.by_name:
                    raise SchemaError(f"{t.name}.{f.name} names unknown field {other}")


def load_model(root: Path) -> Model:
    """Load tables/*.yaml, vocabularies.yaml and refused.yaml from a schema folder."""
    vocabularies = yaml.safe_load((root / "vocabularies.yaml").read_text())
    refused = yaml.safe_load((root / "refused.yaml").read_text())
    tables: dict[str, Table] = {}
    for path in sorted((root / "tables").glob("*.yaml")):
        table = _table(yaml.safe_load(path.read_text()), vocabularies)
        if table.name != path.stem:
            raise SchemaError(f"{path.name} declares table {table.name!r}; the file must be named after it")
        tables[table.name] = table
    _check_references(tables)
    return Model(tables=tables, vocabularies=vocabularies, refused=refused)


def normalise_column(name: str) -> str:
    """lower_snake form of a column name, used to match refused concepts whatever the source's spelling."""
    return re.sub(r"[^a-z0-9]+", "_", name.strip().lower()).strip("_")


def refused_concept(model: Model, column: str) -> str | None:
    """The refused concept a column name stands for, if any (matches whole tokens or the full name)."""
    norm = normalise_column(column)
    tokens = set(norm.split("_"))
    for concept, patterns in model.refused["concepts"].items():
        for p in patterns:
            if norm == p or (p in tokens) or ("_" in p and p in norm):
                return str(concept)
    return None


def protected_only_concept(model: Model, column: str) -> str | None:
    norm = normalise_column(column)
    tokens = set(norm.split("_"))
    for concept, patterns in model.refused["protected_only"].items():
        if any(norm == p or p in tokens for p in patterns):
            return str(concept)
    return None
