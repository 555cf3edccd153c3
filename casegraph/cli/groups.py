"""How every group of verbs is made."""

from __future__ import annotations

from typing import Any

import typer


def command_group(help: str, **options: Any) -> typer.Typer:
    """A group of verbs. Help is plain text: Typer's rich help shows a value after every flag (`--json <bool>`),
    which reads as if the flag took one."""
    return typer.Typer(help=help, rich_markup_mode=None, pretty_exceptions_enable=False, **options)
