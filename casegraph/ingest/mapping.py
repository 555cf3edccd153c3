"""Per-agency mapping files: source columns -> schema fields, code translations, formats, constants.

A mapping is YAML (see casegraph/ingest/mappings/ for the shipped ones):

    table: incidents
    agency: toronto_ps                      # default owning agency
    fields:
      incident_id: {generate: row}          # no id in the source: agency + file checksum + row number
      occurred_from: {columns: [date, hour], join: " ", format: "%Y-%m-%d %H"}
      offence: {column: mci, codes: {Assault: assault, Break and Enter: burglary}}
      offence: {value: burglary}            # a constant
      area: neighbourhood                   # plain rename
      suspect_race: {column: race, protected: true}   # stored only as a protected description
    ignore: [objectid]                      # source columns knowingly not imported
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import yaml

from casegraph.errors import IngestError, RefusedField
from casegraph.ingest.readers import ROW
from casegraph.schema import Table, model, protected_only_concept, refused_concept

SHIPPED = Path(__file__).parent / "mappings"
FIELD_SPEC_KEYS = {"column", "columns", "join", "format", "codes", "value", "generate", "protected", "lower"}


@dataclass(frozen=True)
class FieldRule:
    target: str
    columns: tuple[str, ...] = ()
    join: str = " "
    format: str | None = None
    codes: dict[str, str] = field(default_factory=dict)
    value: str | None = None
    generate: str | None = None
    protected: bool = False
    lower: bool = False


@dataclass
class Mapping:
    table: str
    agency: str | None
    rules: dict[str, FieldRule]
    ignore: set[str]
    name: str

    def formats(self) -> dict[str, str]:
        return {t: r.format for t, r in self.rules.items() if r.format}

    def source_columns(self) -> set[str]:
        return {c for r in self.rules.values() for c in r.columns}


def _rule(target: str, spec: Any) -> FieldRule:
    if isinstance(spec, str):
        return FieldRule(target, columns=(spec,))
    if not isinstance(spec, dict) or set(spec) - FIELD_SPEC_KEYS:
        raise IngestError(
            f"mapping for field {target!r}: use a column name or keys {sorted(FIELD_SPEC_KEYS)}"
        )
    columns = tuple(spec.get("columns") or ([spec["column"]] if "column" in spec else []))
    codes = {str(k): str(v) for k, v in (spec.get("codes") or {}).items()}
    value = None if spec.get("value") is None else str(spec["value"])
    return FieldRule(
        target,
        columns=columns,
        join=spec.get("join", " "),
        format=spec.get("format"),
        codes=codes,
        value=value,
        generate=spec.get("generate"),
        protected=bool(spec.get("protected")),
        lower=bool(spec.get("lower")),
    )


def load_mapping(path: str | Path) -> Mapping:
    """A mapping file by path, or by the name of a shipped mapping (e.g. 'toronto_mci')."""
    p = Path(path)
    if not p.exists() and (SHIPPED / f"{path}.yaml").exists():
        p = SHIPPED / f"{path}.yaml"
    try:
        spec = yaml.safe_load(p.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise IngestError(f"cannot read mapping {path}: {exc}") from exc
    table = model.table(spec["table"])
    rules = {t: _rule(t, s) for t, s in (spec.get("fields") or {}).items()}
    for target in rules:
        table.field(target)  # unknown target fields are an error in the mapping, not silently ignored
    return Mapping(spec["table"], spec.get("agency"), rules, set(spec.get("ignore") or []), p.stem)


def identity_mapping(table: Table, header: list[str]) -> Mapping:
    """No mapping file: source columns named after schema fields are taken as they are."""
    names = {f.name for f in table.input_fields}
    rules = {h: FieldRule(h, columns=(h,)) for h in header if h in names}
    return Mapping(table.name, None, rules, set(), "")


def check_columns(table: Table, mapping: Mapping, header: list[str], file: str) -> list[str]:
    """Refuse prohibited columns; return the source columns that will be ignored (for the report)."""
    allowed_protected = {c for r in mapping.rules.values() if r.protected for c in r.columns}
    for column in header:
        concept = refused_concept(model, column)
        if concept:
            reason = model.refused["reason"].format(concept=concept).strip()
            raise RefusedField(f"{file}: column {column!r} is refused ({concept}). {reason}")
        described = protected_only_concept(model, column)
        if described and column not in allowed_protected:
            raise RefusedField(
                f"{file}: column {column!r} ({described}) may be stored only as a reported description, "
                "marked `protected: true` in a mapping; it is never a feature, key or reason for a link"
            )
    for target, rule in mapping.rules.items():
        if table.field(target).protected and not rule.protected:
            raise RefusedField(
                f"{file}: field {target!r} is protected; its mapping must say `protected: true`"
            )
        missing = [c for c in rule.columns if c not in header]
        if missing:
            raise IngestError(
                f"{file}: mapping for {target!r} names columns not in the file: {', '.join(missing)}"
            )
    used = mapping.source_columns() | mapping.ignore | {"agency"}
    return [h for h in header if h not in used]


def apply(mapping: Mapping, batch: pa.Table, row_key: str) -> pa.Table:
    """Source batch -> batch of schema-named string columns (+ _row). row_key prefixes generated ids."""
    out: dict[str, pa.Array | pa.ChunkedArray] = {}
    n = batch.num_rows
    for target, rule in mapping.rules.items():
        out[target] = _apply_rule(rule, batch, n, row_key)
    if "agency" in batch.column_names and "agency" not in out:
        out["agency"] = batch.column("agency")
    out[ROW] = batch.column(ROW)
    return pa.table(out)


def _apply_rule(rule: FieldRule, batch: pa.Table, n: int, row_key: str) -> pa.Array | pa.ChunkedArray:
    if rule.generate == "row":
        rows = batch.column(ROW).to_pylist()
        return pa.array([f"{row_key}:{r}" for r in rows], pa.string())
    if rule.value is not None:
        return pa.array([rule.value] * n, pa.string())
    cols = [batch.column(c) for c in rule.columns]
    values = cols[0] if len(cols) == 1 else pc.binary_join_element_wise(*cols, rule.join)
    if rule.lower:
        values = pc.utf8_lower(values)
    if rule.codes:
        values = _translate(values, rule.codes)
    return values


def _translate(values: pa.ChunkedArray | pa.Array, codes: dict[str, str]) -> pa.Array:
    """Map an agency's codes onto the vocabulary; unknown codes pass through so validation reports them."""
    py = values.to_pylist()
    return pa.array([codes.get(v, v) if v is not None else None for v in py], pa.string())
