"""The schema, loaded once from this package's YAML files (`model` is the validated singleton)."""

from __future__ import annotations

from pathlib import Path

from casegraph.schema.model import (
    Field,
    Model,
    Table,
    load_model,
    normalise_column,
    protected_only_concept,
    refused_concept,
)

model: Model = load_model(Path(__file__).parent)

__all__ = [
    "Field",
    "Model",
    "Table",
    "load_model",
    "model",
    "normalise_column",
    "protected_only_concept",
    "refused_concept",
]
