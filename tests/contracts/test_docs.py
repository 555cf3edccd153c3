"""Every setting and table is documented, and the generated reference pages are current."""

from pathlib import Path

from pydantic import BaseModel

from casegraph.schema import model
from casegraph.schema.docs import schema_markdown, settings_markdown
from casegraph.settings import Settings

DOCS = Path(__file__).resolve().parents[2] / "docs"


def test_every_setting_has_a_description():
    for section, info in Settings.model_fields.items():
        assert info.description, section
        sub = info.annotation
        assert isinstance(sub, type) and issubclass(sub, BaseModel)
        for key, field in sub.model_fields.items():
            assert field.description, f"[{section}] {key} has no description"


def test_every_table_is_described():
    for table in model.tables.values():
        assert table.description.strip(), table.name


def test_generated_pages_are_current():
    assert (DOCS / "schema.md").read_text() == schema_markdown(model), "run `casegraph docs`"
    assert (DOCS / "settings.md").read_text() == settings_markdown(), "run `casegraph docs`"
