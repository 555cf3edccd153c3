"""What an import did, in a form the CLI prints and scripts read (--json)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

EXIT_OK, EXIT_NOTHING, EXIT_SOME_REJECTED = 0, 2, 3


@dataclass
class IngestReport:
    file: str
    table: str
    agency: str | None
    source_id: str | None = None
    rows_read: int = 0
    loaded: int = 0
    rejected: int = 0
    duplicates: int = 0
    purged: int = 0  # rows whose id was purged earlier: skipped, never stored again
    already_imported: bool = False
    ignored_columns: list[str] = field(default_factory=list)
    problems: list[dict[str, Any]] = field(default_factory=list)  # the first few (row, field, reason)
    crs: str | None = None
    seconds: float = 0.0

    @property
    def exit_code(self) -> int:
        if self.loaded == 0 and self.rejected > 0:
            return EXIT_NOTHING
        return EXIT_SOME_REJECTED if self.rejected else EXIT_OK

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "exit_code": self.exit_code}
