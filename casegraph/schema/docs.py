"""Reference pages generated from the declarations (schema, settings), so docs cannot drift from code."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from casegraph.schema.model import Model
from casegraph.settings import Settings

FLAGS = ("required", "protected", "sensitive", "feature", "matchable")
ON_BAD_TEXT = (
    "A bad value (not of its type, out of range, unknown code, too long, in the future) costs what the field's "
    "`on_bad` rule says: `reject_row` refuses the whole row; `drop_value` loads the row with that field empty. "
    "Either way the problem is kept in `rejects` with file, row, field, reason, the raw row and its `outcome` "
    "('row rejected' or 'value dropped'), and `casegraph ingest` exits 3. Unless a field declares `on_bad`, the "
    "fields that say which record a row is (the key, ids, references, required fields, provenance) reject the "
    "row, and every other field drops its value: a record with one bad field is still evidence."
)


def schema_markdown(model: Model) -> str:
    lines = [
        "# Tables",
        "",
        "Generated from `casegraph/schema/tables/*.yaml` by `casegraph docs`. Do not edit.",
        "",
    ]
    lines += [ON_BAD_TEXT, ""]
    for kind in ("record", "derived", "system"):
        for table in (t for t in model.tables.values() if t.kind == kind):
            imported = kind == "record"  # only record tables are imported: only they have an on-bad rule
            lines += [f"## `{table.name}` ({kind})", "", table.description.strip(), ""]
            lines += [
                f"| field | type | flags |{' on a bad value |' if imported else ''} description |",
                f"| --- | --- | --- |{' --- |' if imported else ''} --- |",
            ]
            for f in table.fields:
                flags = ", ".join(
                    [
                        *(flag for flag in FLAGS if getattr(f, flag)),
                        *([f"agency of `{f.owner_of}`"] if f.owner_of else []),
                    ]
                )
                vocab = f" ({f.vocabulary})" if f.vocabulary else ""
                rule = f" {f.on_bad} |" if imported else ""
                lines.append(f"| `{f.name}` | {f.type}{vocab} | {flags} |{rule} {f.description} |")
            lines.append("")
    lines += ["## Vocabularies", ""]
    for name, values in model.vocabularies.items():
        shown = (
            ", ".join(values)
            if isinstance(values, list)
            else ", ".join(f"{k}→{v}" for k, v in values.items())
        )
        lines.append(f"- `{name}`: {shown}")
    lines += ["", "## Refused concepts", "", str(model.refused["reason"]).strip(), ""]
    for concept, patterns in model.refused["concepts"].items():
        lines.append(f"- {concept}: column names {', '.join(patterns)}")
    return "\n".join(lines) + "\n"


def settings_markdown() -> str:
    lines = ["# Settings", "", "Generated from `casegraph/settings.py` by `casegraph docs`. Do not edit.", ""]
    lines += [
        "Set them in `casegraph.toml` (one `[section]` per heading) or the environment variables noted.",
        "",
    ]
    for section, info in Settings.model_fields.items():
        lines += [f"## `[{section}]`", "", info.description or "", ""]
        lines += ["| key | default | description |", "| --- | --- | --- |"]
        sub = info.annotation
        if isinstance(sub, type) and issubclass(sub, BaseModel):
            for key, field in sub.model_fields.items():
                lines.append(f"| `{key}` | `{_default(field.default)}` | {field.description or ''} |")
        lines.append("")
    return "\n".join(lines) + "\n"


def _default(value: Any) -> str:
    return "" if value is None else str(value)
