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
    rejected: int = 0  # rows not loaded because of a problem (each reason is in rejects)
    duplicates: int = 0  # rows already stored with the same values: skipped
    repeated: int = 0  # rows repeating an earlier row of the same file exactly: skipped
    values_dropped: int = 0  # bad values of drop_value fields: the row loaded with the field empty
    rows_with_dropped_values: int = 0
    purged: int = 0  # rows whose id was purged earlier: skipped, never stored again
    already_imported: bool = False
    ignored_columns: list[str] = field(default_factory=list)
    problems: list[dict[str, Any]] = field(default_factory=list)  # the first few (row, field, reason)
    crs: str | None = None
    seconds: float = 0.0

    @property
    def every_row_rejected(self) -> bool:
        return self.rejected > 0 and self.loaded + self.duplicates + self.repeated + self.purged == 0

    @property
    def exit_code(self) -> int:
        """2: every row rejected; 3: some rows rejected or some values dropped (the rest loaded or already
        stored); 0: every row loaded whole or already stored."""
        if self.every_row_rejected:
            return EXIT_NOTHING
        return EXIT_SOME_REJECTED if self.rejected or self.values_dropped else EXIT_OK

    def summary(self) -> str:
        """What happened to every row read, each with its number."""
        parts = [f"{self.loaded:,} loaded"]
        if self.rows_with_dropped_values:
            parts[0] += (
                f" ({self.rows_with_dropped_values:,} of them with {self.values_dropped:,} bad value"
                f"{'s' if self.values_dropped != 1 else ''} dropped)"
            )
        parts += [f"{self.duplicates:,} already stored", f"{self.rejected:,} rejected"]
        if self.repeated:
            parts.append(f"{self.repeated:,} exact repeats in the file skipped")
        if self.purged:
            parts.append(f"{self.purged:,} purged ids skipped")
        return f"{self.file} -> {self.table}: {', '.join(parts)} ({self.rows_read:,} rows read)"

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "exit_code": self.exit_code, "summary": self.summary()}
