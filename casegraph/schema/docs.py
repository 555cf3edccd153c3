"""Reference pages generated from the declarations (schema, settings), so docs cannot drift from code."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from casegraph.schema.model import Model
from casegraph.settings import Settings

FLAGS = ("required", "protected", "sensitive", "feature", "matchable")


def schema_markdown(model: Model) -> str:
    lines = [
        "# Tables",
        "",
        "Generated from `casegraph/schema/tables/*.yaml` by `casegraph docs`. Do not edit.",
        "",
    ]
    for kind in ("record", "derived", "system"):
        for table in (t for t in model.tables.values() if t.kind == kind):
            lines += [f"## `{table.name}` ({kind})", "", table.description.strip(), ""]
            lines += ["| field | type | flags | description |", "| --- | --- | --- | --- |"]
            for f in table.fields:
                flags = ", ".join(
                    [
                        *(flag for flag in FLAGS if getattr(f, flag)),
                        *([f"agency of `{f.owner_of}`"] if f.owner_of else []),
                    ]
                )
                vocab = f" ({f.vocabulary})" if f.vocabulary else ""
                lines.append(f"| `{f.name}` | {f.type}{vocab} | {flags} | {f.description} |")
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
