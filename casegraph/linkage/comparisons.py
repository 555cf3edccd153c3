"""The pair comparisons (features) crime linkage may use, each tied to the schema fields it reads.

A comparison reads only incident fields the schema flags `feature: true`; a protected field is refused here
(and the schema loader already forbids a protected field from being a feature), so no protected value can
reach a feature, a blocking key or the reason for a link. `tests/unit/test_linkage_protected.py` proves it.
"""

from __future__ import annotations

from dataclasses import dataclass

from casegraph.errors import SchemaError
from casegraph.safeguards.protected import assert_not_protected
from casegraph.schema import Table, model

KINDS = (
    "distance",
    "relative_distance",
    "time_gap",
    "space_time",
    "cycle_gap",
    "same_code",
    "category",
    "token_set",
    "text",
    "range_gap",
    "number_gap",
)


@dataclass(frozen=True)
class Comparison:
    """One pair feature: its name, how it compares, the fields it reads, its unit and what it means."""

    name: str
    kind: str
    fields: tuple[str, ...]
    unit: str
    description: str
    period_hours: float = 0.0  # for cycle_gap: 24 (time of day) or 168 (day of week)

    @property
    def direction(self) -> int:
        """+1 when a larger value is more evidence of a link (similarity), -1 when less (a gap or distance)."""
        gaps = (
            "distance",
            "relative_distance",
            "time_gap",
            "space_time",
            "cycle_gap",
            "range_gap",
            "number_gap",
        )
        return -1 if self.kind in gaps else 1


_WINDOW = ("occurred_from", "occurred_to")

COMPARISONS: tuple[Comparison, ...] = (
    Comparison("distance_m", "distance", ("x", "y"), "m", "Straight-line distance between the two places"),
    Comparison(
        "distance_vs_spacing",
        "relative_distance",
        ("x", "y"),
        "",
        "Distance over the local spacing of incidents (geometric mean of both incidents' distance to their "
        "10th nearest incident): 500 m apart says more in a quiet suburb than in the centre",
    ),
    Comparison(
        "days_apart",
        "time_gap",
        _WINDOW,
        "days",
        "Expected absolute time difference, both occurrences uniform over their time windows (Porter)",
    ),
    Comparison(
        "distance_times_days",
        "space_time",
        ("x", "y", "occurred_from"),  # and occurred_to, which every comparison reads
        "m x days",
        "Distance times days apart: small only for a pair near in both place and time, the interaction of the "
        "two that the additive pair models cannot learn from either alone",
    ),
    Comparison(
        "hours_apart_in_day",
        "cycle_gap",
        _WINDOW,
        "h",
        "Circular time-of-day difference; tends to 6 h (no information) as the time windows widen",
        period_hours=24.0,
    ),
    Comparison(
        "days_apart_in_week",
        "cycle_gap",
        _WINDOW,
        "days",
        "Circular day-of-week difference; tends to 1.75 days (no information) as the windows widen",
        period_hours=168.0,
    ),
    Comparison("same_offence", "same_code", ("offence",), "", "1 when both incidents have the same offence"),
    Comparison("premises", "category", ("premises",), "", "Same premises type (larger = rarer shared value)"),
    Comparison("mo_entry", "category", ("mo_entry",), "", "Same method of entry or approach"),
    Comparison("mo_target", "category", ("mo_target",), "", "Same target or victim type"),
    Comparison("mo_other", "category", ("mo_other",), "", "Same further MO code"),
    Comparison("weapon", "category", ("weapon",), "", "Same weapon"),
    Comparison(
        "property_taken", "token_set", ("property_taken",), "", "Jaccard overlap of the property taken"
    ),
    Comparison("vehicle", "token_set", ("vehicle",), "", "Jaccard overlap of the vehicle description words"),
    Comparison("narrative", "text", ("narrative",), "", "Cosine similarity of the narratives (TF-IDF, LSA)"),
    Comparison(
        "suspect_age_gap",
        "range_gap",
        ("suspect_age_min", "suspect_age_max"),
        "years",
        "Gap between the two reported suspect age ranges (0 = they overlap)",
    ),
    Comparison(
        "suspect_height_gap", "number_gap", ("suspect_height_cm",), "cm", "Difference in reported height"
    ),
    Comparison("suspect_count_gap", "number_gap", ("suspect_count",), "", "Difference in number of suspects"),
    Comparison("suspect_build", "category", ("suspect_build",), "", "Same reported build"),
    Comparison(
        "suspect_clothing", "token_set", ("suspect_clothing",), "", "Jaccard overlap of clothing words"
    ),
)

BY_NAME = {c.name: c for c in COMPARISONS}


def check_fields(comparison: Comparison, table: Table) -> None:
    """Refuse a comparison that would read a protected, unknown or non-feature field."""
    if comparison.kind not in KINDS:
        raise SchemaError(f"comparison {comparison.name}: unknown kind {comparison.kind!r}")
    for name in comparison.fields:
        field = table.field(name)
        if field.protected:
            raise SchemaError(f"comparison {comparison.name} reads the protected field {table.name}.{name}")
        if not field.feature:
            raise SchemaError(
                f"comparison {comparison.name} reads {table.name}.{name}, which is not a feature field"
            )


def selected(names: list[str] | None = None) -> tuple[Comparison, ...]:
    """The comparisons to use (all by default), each checked against the incidents schema."""
    table = model.table("incidents")
    chosen = COMPARISONS if not names else tuple(_by_name(n) for n in names)
    for comparison in chosen:
        check_fields(comparison, table)
    assert_not_protected("incidents", fields_read(chosen), use="a linkage feature")
    return chosen


def _by_name(name: str) -> Comparison:
    try:
        return BY_NAME[name]
    except KeyError:
        raise SchemaError(f"unknown linkage feature {name!r}; known: {', '.join(BY_NAME)}") from None


def fields_read(comparisons: tuple[Comparison, ...]) -> list[str]:
    """Incident fields the comparisons read, in a stable order (offence is always read for blocking)."""
    seen = dict.fromkeys(["offence", "occurred_from", "occurred_to"])
    for comparison in comparisons:
        seen.update(dict.fromkeys(comparison.fields))
    return list(seen)
