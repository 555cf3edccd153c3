"""Stolen property as evidence: the same item identifier seen twice links what is on both sides.

Every sighting of an identifier (an item taken in an incident, the item pawned, sold, found on a person or
recovered) is compared with every other: the same identifier is a hard link (score 1, the item as its
evidence); one character off or two neighbours swapped is only a near match, kept for an analyst's decision
and never used as a link. IMEIs and serials are compared apart (IMEI: / SN: prefixes).
"""

from __future__ import annotations

from collections import defaultdict
from itertools import combinations

import numpy as np
import pandas as pd

from casegraph.linkage import item_decisions
from casegraph.schema.identifiers import near_identifiers
from casegraph.store import Store

READS = ("property_items", "property_events", "incidents")
SERIAL_SQL = "upper(regexp_replace({c}, '[^0-9A-Za-z]', '', 'g'))"
HOLDING_KINDS = ("pawned", "sold", "found_on_person", "recovered")


def identifier_sql(alias: str) -> str:
    """An item's compared identifier: IMEI:<digits>, else SN:<serial in normal form>, else NULL."""
    serial = SERIAL_SQL.format(c=f"{alias}.serial")
    return (
        f"CASE WHEN coalesce({alias}.imei, '') <> '' THEN 'IMEI:' || {alias}.imei "
        f"WHEN coalesce({serial}, '') <> '' THEN 'SN:' || {serial} END"
    )


def sightings_sql() -> str:
    """One row per sighting with an identifier: items as taken (dated by their incident) and events."""
    return (
        f"SELECT * FROM (SELECT p.agency, p.item_id AS sighting, 'taken' AS sighting_kind, p.incident_id, "
        f"NULL::VARCHAR AS record_id, i.occurred_from AS occurred_at, i.area AS place, {identifier_sql('p')} "
        "AS identifier FROM property_items p LEFT JOIN incidents i ON i.agency = p.agency "
        "AND i.incident_id = p.incident_id "
        "UNION ALL SELECT e.agency, e.event_id, e.kind, e.incident_id, e.record_id, e.occurred_at, "
        "concat_ws(', ', e.dealer, e.city), "
        f"{identifier_sql('e')} FROM property_events e) WHERE identifier IS NOT NULL"
    )


def sightings(store: Store) -> pd.DataFrame:
    if not all(t in store.table_names() for t in READS):
        return pd.DataFrame()
    return store.df(sightings_sql() + " ORDER BY agency, sighting")


def identifier_pairs(identifiers: list[str]) -> list[tuple[str, str, str]]:
    """(a, b, match) for distinct identifiers one character apart or with two neighbours swapped. Candidates
    are found through keys with one position masked and through swapped neighbours, so no all-pairs pass."""
    masked: dict[str, list[str]] = defaultdict(list)
    known = set(identifiers)
    found: set[tuple[str, str]] = set()
    for ident in known:
        for k in range(ident.index(":") + 1, len(ident)):
            masked[ident[:k] + "\0" + ident[k + 1 :]].append(ident)
            swapped = ident[:k] + ident[k + 1 : k + 2] + ident[k] + ident[k + 2 :]
            if k + 1 < len(ident) and swapped != ident and swapped in known:
                found.add((min(ident, swapped), max(ident, swapped)))
    for group in masked.values():
        found.update((min(a, b), max(a, b)) for a, b in combinations(group, 2))
    out = []
    for a, b in sorted(found):
        match = near_identifiers(a, b)
        if match:
            out.append((a, b, match))
    return out


def property_links(store: Store, run_id: str) -> pd.DataFrame:
    """Rows of `property_links`: every pair of sightings of one identifier, then every near-match pair."""
    seen = sightings(store)
    if seen.empty:
        return pd.DataFrame()
    by_id = {k: g for k, g in seen.groupby("identifier", sort=False)}
    exact = [(g, g, "exact") for g in by_id.values() if len(g) > 1]
    near = [(by_id[a], by_id[b], m) for a, b, m in identifier_pairs(list(by_id))]
    frames = [_pairs(a, b, m) for a, b, m in exact + near]
    if not frames:
        return pd.DataFrame()
    links = with_decisions(pd.concat(frames, ignore_index=True), item_decisions.active(store))
    links.insert(0, "run_id", run_id)
    links.insert(0, "link_id", np.arange(1, len(links) + 1).astype(str))
    return links


def with_decisions(
    links: pd.DataFrame, decided: dict[tuple[tuple[str, str], tuple[str, str]], str]
) -> pd.DataFrame:
    """Analysts' decisions on near matches: same-item makes the pair an item link (score 1)."""
    keys = [
        (min(a, b), max(a, b))
        for a, b in zip(
            zip(links.agency_a, links.sighting_a, strict=True),
            zip(links.agency_b, links.sighting_b, strict=True),
            strict=True,
        )
    ]
    links["decision"] = [
        decided.get(k) if m != "exact" else None for k, m in zip(keys, links["match"], strict=True)
    ]
    same = links["decision"] == "same-item"
    links.loc[same, "kind"] = "item"
    links.loc[same, "score"] = 1.0
    return links


def _pairs(a: pd.DataFrame, b: pd.DataFrame, match: str) -> pd.DataFrame:
    """Sighting pairs between two groups (within one group when match is exact), a before b by key."""
    cross = a.merge(b, how="cross", suffixes=("_a", "_b"))
    ordered = (cross.agency_a + "\0" + cross.sighting_a) < (cross.agency_b + "\0" + cross.sighting_b)
    cross = cross[ordered] if match == "exact" else cross
    exact = match == "exact"
    return pd.DataFrame(
        {
            "kind": "item" if exact else "near_match",
            "match": match,
            "score": 1.0 if exact else np.nan,
            **{
                f"{col}_{side}": cross[f"{src}_{side}"]
                for side in ("a", "b")
                for col, src in (
                    ("identifier", "identifier"),
                    ("agency", "agency"),
                    ("sighting", "sighting"),
                    ("sighting_kind", "sighting_kind"),
                    ("incident", "incident_id"),
                    ("record", "record_id"),
                    ("occurred", "occurred_at"),
                    ("place", "place"),
                )
            },
        }
    )


def incident_pairs(store: Store, run_id: str) -> pd.DataFrame:
    """Distinct incident pairs (agency_a, incident_a, agency_b, incident_b) a hard item link joins."""
    return store.df(
        "SELECT DISTINCT agency_a, incident_a, agency_b, incident_b FROM property_links WHERE run_id = ? "
        "AND kind = 'item' AND incident_a IS NOT NULL AND incident_b IS NOT NULL "
        "AND (agency_a, incident_a) <> (agency_b, incident_b)",
        [run_id],
    )


def holdings_sql(with_identities: bool) -> str:
    """(t_agency, t_incident, agency, record_id, sighting, seen, holder) of every item link between an item
    taken in an incident and a person record that sold or held it. Parameters: run_id, run_id."""
    sides = " UNION ALL ".join(
        f"SELECT agency_{t} AS t_agency, incident_{t} AS t_incident, agency_{h} AS agency, record_{h} AS "
        f"record_id, sighting_{h} AS sighting, sighting_kind_{h} AS seen FROM property_links WHERE run_id = ? "
        f"AND kind = 'item' AND sighting_kind_{t} = 'taken' AND record_{h} IS NOT NULL"
        for t, h in (("a", "b"), ("b", "a"))
    )
    return f"SELECT s.*, {_holder_key(with_identities)} AS holder FROM ({sides}) s {_identities(with_identities)}"


def _holder_key(with_identities: bool) -> str:
    record = "s.agency || ':' || s.record_id"
    return f"coalesce(p.person_id, {record})" if with_identities else record


def _identities(with_identities: bool, among: str = "") -> str:
    """The join to each record's latest person; `among` (a query of record ids) narrows the records looked up
    first, so a lookup for a few records does not rank every identity of the store."""
    narrowed = f"WHERE record_id IN ({among}) " if among else ""
    return (
        f"LEFT JOIN (SELECT agency, record_id, person_id FROM person_identities {narrowed}"
        "QUALIFY row_number() OVER (PARTITION BY agency, record_id ORDER BY run_id DESC) = 1) p "
        "ON p.agency = s.agency AND p.record_id = s.record_id "
        if with_identities
        else ""
    )


def receivers_sql(known_offenders: str, with_identities: bool) -> str:
    """Holders whose items come from incidents of at least `min` other known offenders: receivers (fences).
    Parameters: run_id, run_id, the offender roles `known_offenders` takes, min."""
    return (
        f"SELECT h.holder, count(DISTINCT k.offender) AS offenders FROM ({holdings_sql(with_identities)}) h "
        f"JOIN ({known_offenders}) k ON k.agency = h.t_agency AND k.incident_id = h.t_incident "
        "AND k.offender <> h.holder GROUP BY h.holder HAVING count(DISTINCT k.offender) >= ?"
    )


def _other_side(seed: str, other: str) -> str:
    return (
        f"SELECT agency_{other} AS agency, sighting_{other} AS sighting, sighting_kind_{other} AS sighting_kind, "
        f"incident_{other} AS incident_id, record_{other} AS record_id, occurred_{other} AS occurred_at, "
        f"place_{other} AS place, sighting_{seed} AS seed_sighting, identifier_{seed} AS identifier "
        f"FROM property_links WHERE run_id = ? AND kind = 'item' AND agency_{seed} = ? AND incident_{seed} = ?"
    )


def item_evidence_sql(with_identities: bool) -> str:
    """What the seed incident's items link to (the other sighting of each item link), with the holder's person
    (resolved, else agency:record_id). Parameters: run_id, agency, incident_id, run_id, agency, incident_id."""
    identities = _identities(with_identities, among="SELECT record_id FROM s")
    holder = f"CASE WHEN s.record_id IS NOT NULL THEN {_holder_key(with_identities)} END"
    return (
        f"WITH s AS ({_other_side('a', 'b')} UNION ALL {_other_side('b', 'a')}) "
        f"SELECT s.*, {holder} AS holder FROM s {identities}ORDER BY s.occurred_at, s.sighting"
    )


def item_evidence(
    store: Store, run_id: str, agency: str, incident_id: str, with_identities: bool
) -> pd.DataFrame:
    if "property_links" not in store.table_names():
        return pd.DataFrame()
    params = [run_id, agency, incident_id] * 2
    return store.df(item_evidence_sql(with_identities), params)


def describe_sighting(row: pd.Series) -> dict[str, object]:
    """One item link as an answer shows it: the item, what happened to it, where, when, on which records."""
    return {
        "item": row["seed_sighting"],
        "identifier": row["identifier"],
        "seen": row["sighting_kind"],
        "sighting": row["sighting"],
        "agency": row["agency"],
        "incident_id": None if pd.isna(row["incident_id"]) else row["incident_id"],
        "record_id": None if pd.isna(row["record_id"]) else row["record_id"],
        "at": None if pd.isna(row["occurred_at"]) else str(row["occurred_at"]),
        "place": None if pd.isna(row["place"]) or not row["place"] else row["place"],
        "score": 1.0,
    }
