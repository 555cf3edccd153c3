"""SQL builders of the resolve stage (pure functions; values always travel as ? parameters)."""

from __future__ import annotations

from casegraph.resolve.prepare import matchable_fields
from casegraph.store import quote

IDENTITIES = "person_identities"
PAIRS = "resolve_pairs"
DECISIONS = "resolve_decisions"
MODELS = "resolve_models"
TERM_FREQUENCIES = "resolve_term_frequencies"
PAIR_KEY = "agency_a, record_a, agency_b, record_b"


def active_decisions_sql() -> str:
    """Decisions in force: not undone (a newer decision on a pair undoes the older one)."""
    return (
        f"SELECT decision_id, {PAIR_KEY}, decision, decided_by, decided_at, note, model_probability "
        f"FROM {DECISIONS} WHERE undone_at IS NULL ORDER BY decided_at"
    )


def undo_decisions_sql() -> str:
    """Stamp the active decisions on one pair as undone (params: by, at, agency_a, record_a, agency_b, record_b)."""
    return (
        f"UPDATE {DECISIONS} SET undone_by = ?, undone_at = ? "
        "WHERE undone_at IS NULL AND agency_a = ? AND record_a = ? AND agency_b = ? AND record_b = ?"
    )


def count_active_decisions_sql() -> str:
    return f"SELECT count(*) FROM {DECISIONS} WHERE undone_at IS NULL AND {_pair_where('')}"


def pair_decision_sql() -> str:
    return (
        f"SELECT decision_id, decision, decided_by, decided_at, note FROM {DECISIONS} "
        f"WHERE undone_at IS NULL AND {_pair_where('')}"
    )


def insert_decision_sql() -> str:
    return (
        f"INSERT INTO {DECISIONS} (decision_id, {PAIR_KEY}, decision, note, decided_by, decided_at, "
        "model_probability) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    )


def decisions_sql(include_undone: bool) -> str:
    where = "" if include_undone else " WHERE undone_at IS NULL"
    return f"SELECT * FROM {DECISIONS}{where} ORDER BY decided_at DESC"


def pair_probability_sql() -> str:
    return f"SELECT match_weight, match_probability FROM {PAIRS} WHERE {_pair_where('')}"


def _pair_where(alias: str) -> str:
    a = f"{alias}." if alias else ""
    return f"{a}agency_a = ? AND {a}record_a = ? AND {a}agency_b = ? AND {a}record_b = ?"


def review_sql() -> str:
    """Undecided pairs inside the uncertain band, most uncertain first (params: low, high, limit)."""
    return (
        f"SELECT p.{PAIR_KEY.replace(', ', ', p.')}, p.match_weight, p.match_probability, "
        "ia.person_id = ib.person_id AS same_person "
        f"FROM {PAIRS} p "
        f"LEFT JOIN {IDENTITIES} ia ON ia.agency = p.agency_a AND ia.record_id = p.record_a "
        f"LEFT JOIN {IDENTITIES} ib ON ib.agency = p.agency_b AND ib.record_id = p.record_b "
        f"WHERE p.match_probability >= ? AND p.match_probability <= ? AND NOT EXISTS ("
        f"SELECT 1 FROM {DECISIONS} d WHERE d.undone_at IS NULL AND d.agency_a = p.agency_a "
        "AND d.record_a = p.record_a AND d.agency_b = p.agency_b AND d.record_b = p.record_b) "
        "ORDER BY abs(p.match_probability - 0.5), p.pair_id LIMIT ?"
    )


def record_sql() -> str:
    """One person record's key and matchable fields (params: agency, record_id); never a protected field."""
    fields = ", ".join(quote(f) for f in matchable_fields())
    return f"SELECT agency, record_id, {fields} FROM person_records WHERE agency = ? AND record_id = ?"


def agencies_of_record_sql() -> str:
    return "SELECT DISTINCT agency FROM person_records WHERE record_id = ? ORDER BY 1"


def latest_model_sql() -> str:
    return f"SELECT run_id, model_json FROM {MODELS} ORDER BY created_at DESC LIMIT 1"


def term_frequencies_sql() -> str:
    """Frequencies of given values (params: run_id, column_name, value)."""
    return f"SELECT frequency FROM {TERM_FREQUENCIES} WHERE run_id = ? AND column_name = ? AND value = ?"


def identity_keys_sql() -> str:
    """Records of the latest resolution, in the order uids were given."""
    return f"SELECT agency, record_id FROM {IDENTITIES} ORDER BY agency, record_id"


def pairs_sql() -> str:
    return f"SELECT {PAIR_KEY}, match_weight, match_probability, run_id FROM {PAIRS}"


def identities_sql() -> str:
    return (
        "SELECT record_id, agency, person_id, match_weight, match_probability, cluster_size, "
        f"cluster_confidence, decided, run_id FROM {IDENTITIES} ORDER BY person_id, agency, record_id"
    )


def person_of_sql() -> str:
    return f"SELECT person_id FROM {IDENTITIES} WHERE agency = ? AND record_id = ?"


def person_records_sql() -> str:
    """The records resolved to one person (param: person_id), with their link strength."""
    return (
        "SELECT agency, record_id, match_weight, match_probability, cluster_confidence "
        f"FROM {IDENTITIES} WHERE person_id = ? ORDER BY agency, record_id"
    )
