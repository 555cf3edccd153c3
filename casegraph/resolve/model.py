"""casegraph settings -> a Splink (Fellegi-Sunter) model; training without labels, clerical labels where any.

Splink stays Splink: this module only builds its settings and calls its training steps. Every comparison
and blocking rule reads prepared columns (see prepare.SOURCE_FIELD), all derived from matchable fields.
The SQL in custom levels uses functions DuckDB and Spark share (year, month, day), so one model runs on both.
"""

from __future__ import annotations

import re
from typing import Any

import splink.comparison_level_library as cll
import splink.comparison_library as cl
from splink import SettingsCreator
from splink.blocking_rule_library import CustomRule
from splink.internals.column_expression import ColumnExpression

from casegraph.settings import ResolveSettings

JW_CLOSE = 0.88


# One name is in the other's nickname set (the set holds the name itself). DuckDB SQL, translated by Splink
# (sqlglot) for Spark; list_contains is five times cheaper than intersecting the two sets.
NICKNAME_SQL = "list_contains(given_nicknames_r, given_l) OR list_contains(given_nicknames_l, given_r)"


def _nickname() -> Any:
    return cll.CustomLevel(
        NICKNAME_SQL, label_for_charts="Given names are nicknames", base_dialect_str="duckdb"
    )


def _given_like() -> Any:
    """Given names agree: exactly, as nicknames of one another, or within a typo."""
    return cll.Or(cll.ExactMatchLevel("given"), _nickname(), cll.JaroWinklerLevel("given", JW_CLOSE))


def name_comparison() -> Any:
    """Given and family name together, so a swapped order or a nickname is one piece of evidence."""
    family_close = cll.Or(cll.ExactMatchLevel("family"), cll.JaroWinklerLevel("family", JW_CLOSE))
    return cl.CustomComparison(
        output_column_name="name",
        comparison_levels=[
            cll.NullLevel("family"),
            cll.And(cll.ExactMatchLevel("given"), cll.ExactMatchLevel("family")).configure(
                tf_adjustment_column="family", tf_adjustment_weight=1.0
            ),
            cll.ColumnsReversedLevel("given", "family", symmetrical=True),
            cll.And(cll.ExactMatchLevel("family"), _given_like()),
            cll.And(family_close, _given_like()),
            cll.ExactMatchLevel("family").configure(tf_adjustment_column="family", tf_adjustment_weight=1.0),
            cll.Or(cll.ExactMatchLevel("given"), _nickname()),
            cll.ElseLevel(),
        ],
        comparison_description="Given and family name (nicknames, typos, swapped order)",
    )


TRANSPOSED = "month(dob_l) = day(dob_r) AND day(dob_l) = month(dob_r) AND year(dob_l) = year(dob_r)"
PARTIAL = "year(dob_l) = year(dob_r) AND ((month(dob_l) = 1 AND day(dob_l) = 1) OR (month(dob_r) = 1 AND day(dob_r) = 1))"
YEAR_ONLY_DIFFERS = "month(dob_l) = month(dob_r) AND day(dob_l) = day(dob_r)"


def dob_comparison() -> Any:
    """Date of birth with the keying errors police records show: day/month swapped, one digit, wrong year."""
    return cl.CustomComparison(
        output_column_name="dob",
        comparison_levels=[
            cll.NullLevel("dob"),
            cll.ExactMatchLevel("dob"),
            cll.CustomLevel(TRANSPOSED, label_for_charts="Day and month transposed"),
            cll.CustomLevel(PARTIAL, label_for_charts="Same year, one date partial (1 January)"),
            cll.LevenshteinLevel("dob_text", 1),
            cll.CustomLevel(YEAR_ONLY_DIFFERS, label_for_charts="Same day and month, year differs"),
            cll.AbsoluteDateDifferenceLevel("dob", input_is_string=False, metric="year", threshold=1),
            cll.ElseLevel(),
        ],
        comparison_description="Date of birth",
    )


ADDRESS_NULL = "(address_l IS NULL OR address_r IS NULL) AND (postcode_l IS NULL OR postcode_r IS NULL)"


def address_comparison() -> Any:
    return cl.CustomComparison(
        output_column_name="address",
        comparison_levels=[
            cll.CustomLevel(ADDRESS_NULL, label_for_charts="Address and postcode missing").configure(
                is_null_level=True
            ),
            cll.ExactMatchLevel("address").configure(
                tf_adjustment_column="address", tf_adjustment_weight=1.0
            ),
            cll.JaroWinklerLevel("address", 0.9),
            cll.ExactMatchLevel("postcode"),
            cll.ElseLevel(),
        ],
        comparison_description="Street address, else postcode",
    )


def middle_comparison() -> Any:
    initial = ColumnExpression("middle").substr(1, 1)
    return cl.CustomComparison(
        output_column_name="middle",
        comparison_levels=[
            cll.NullLevel("middle"),
            cll.ExactMatchLevel("middle"),
            cll.ExactMatchLevel(initial),
            cll.ElseLevel(),
        ],
        comparison_description="Middle name or its initial",
    )


def comparisons() -> list[Any]:
    return [
        name_comparison(),
        dob_comparison(),
        cl.ExactMatch("sex"),
        address_comparison(),
        cl.LevenshteinAtThresholds("phone", [1]),
        cl.LevenshteinAtThresholds("id_number", [1]),
        cl.ArrayIntersectAtSizes("alias", [1]),
        middle_comparison(),
    ]


ARRAY_COLUMNS = ("given_nicknames", "alias")


def rules(sql_rules: list[str], cross_agency_only: bool) -> list[str]:
    """Blocking rules as SQL; when linking sources, only pairs from two agencies."""
    return [f"({r}) AND l.agency <> r.agency" if cross_agency_only else r for r in sql_rules]


def blocking_rule(sql: str) -> Any:
    """A rule naming an array column compares its elements: Splink explodes the array before the join."""
    arrays = [c for c in ARRAY_COLUMNS if re.search(rf"\b[lr]\.{c}\b", sql)]
    return CustomRule(sql, arrays_to_explode=arrays) if arrays else sql


def splink_settings(rs: ResolveSettings) -> SettingsCreator:
    return SettingsCreator(
        link_type="dedupe_only",
        unique_id_column_name="uid",
        comparisons=comparisons(),
        blocking_rules_to_generate_predictions=[
            blocking_rule(r) for r in rules(rs.blocking_rules, rs.cross_agency_only)
        ],
        retain_matching_columns=False,
        retain_intermediate_calculation_columns=False,
        additional_columns_to_retain=[],
        probability_two_random_records_match=1e-4,
    )


def train(linker: Any, rs: ResolveSettings, labels: Any = None) -> dict[str, Any]:
    """Prior from deterministic rules, u from random pairs, m by EM; clerical labels refine m when given."""
    linker.training.estimate_probability_two_random_records_match(
        rules(rs.deterministic_rules, rs.cross_agency_only), recall=rs.deterministic_recall
    )
    linker.training.estimate_u_using_random_sampling(
        max_pairs=rs.u_max_pairs, seed=rs.seed, min_count_per_level=None, num_chunks=1
    )
    skipped = [
        rule for rule in rules(rs.training_rules, rs.cross_agency_only) if not _em_session(linker, rule, rs)
    ]
    if labels is not None:
        linker.training.estimate_m_from_pairwise_labels(labels)
    return {"labels_used": labels is not None, "em_sessions_skipped": skipped}


def _em_session(linker: Any, rule: Any, rs: ResolveSettings) -> bool:
    """One EM session; False when Splink refuses its result. Splink 5 raises when EM drives an m value below
    1e-300 (a level no match ever reaches in that session's pairs); such a session's estimates are dropped
    (the session works on a copy of the model) and the other sessions' estimates of those levels stand."""
    try:
        linker.training.estimate_parameters_using_expectation_maximisation(
            rule, estimate_without_term_frequencies=True, max_pairs=rs.em_max_pairs
        )
    except ValueError as exc:
        if "below the minimum allowed value" not in str(exc):
            raise
        return False
    return True
