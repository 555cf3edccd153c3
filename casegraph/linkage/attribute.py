"""`attribute`: the known offenders, series and groups an (unsolved) incident most likely belongs to.

The seed is scored against its candidates (query.score_seed). A known offender scores the highest link
probability between the seed and any incident that offender is known for (links to one offender's
incidents are not independent events, so they are not multiplied together); a series scores its best
link to a member; a group scores its best-scoring member offender, through
the membership claims recorded for the offender's records (or, once resolve has run, for any record of
the same person). Every score lists the incidents, records and claims behind it.

Stolen property (the link run's item links) adds hard evidence: an incident an item of the seed was seen in
is linked with probability 1, and a person who sold or held an item counts like a known offender of the
incident it was taken in (the seed's own items: score 1; a linked incident's: that link's probability). A
receiver, who sold or held items from incidents of several other known offenders (a fence), is named with
the items under `receivers` but not taken for the offender.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from casegraph.linkage.property import describe_sighting, holdings_sql, item_evidence, receivers_sql
from casegraph.linkage.query import score_seed
from casegraph.linkage.training import has_identities, known_offenders_sql
from casegraph.safeguards import valid_claims_sql
from casegraph.settings import LinkageSettings, SafeguardSettings
from casegraph.store import Store, quote

LINKED = "_tmp_linkage_attribute"


def offenders_sql(n_roles: int, with_identities: bool) -> str:
    known = known_offenders_sql(n_roles, with_identities)
    return (
        f"SELECT o.offender, o.record_agency, o.record_id, c.agency, c.incident_id, c.probability "
        f"FROM ({known}) o JOIN {quote(LINKED)} c ON c.agency = o.agency AND c.incident_id = o.incident_id"
    )


def series_sql() -> str:
    return (
        f"SELECT s.series_id, s.agency, s.incident_id, s.confidence, s.size, c.probability FROM series s "
        f"JOIN {quote(LINKED)} c ON c.agency = s.agency AND c.incident_id = s.incident_id "
        "WHERE s.run_id = ?"
    )


def claims_sql(with_identities: bool, claims: str = "membership_claims") -> str:
    """Membership claims (`claims`: those that pass the safeguards' rules) keyed like offenders (resolved
    person, else agency:record_id), with the group name."""
    person = (
        "coalesce(p.person_id, m.agency || ':' || m.record_id)"
        if with_identities
        else ("m.agency || ':' || m.record_id")
    )
    identities = (
        (
            "LEFT JOIN (SELECT agency, record_id, person_id FROM person_identities "
            "QUALIFY row_number() OVER (PARTITION BY agency, record_id ORDER BY run_id DESC) = 1) p "
            "ON p.agency = m.agency AND p.record_id = m.record_id "
        )
        if with_identities
        else ""
    )
    return (
        f"SELECT {person} AS offender, m.group_id, g.name AS group_name, m.claim_id, m.agency AS claim_agency, "
        f"m.record_id, m.criteria FROM {claims} m {identities}"
        "LEFT JOIN (SELECT group_id, any_value(name) AS name FROM groups GROUP BY group_id) g "
        "ON g.group_id = m.group_id"
    )


def attribute(
    store: Store,
    incident_id: str,
    settings: LinkageSettings,
    *,
    agency: str | None = None,
    top: int = 10,
    min_probability: float = 0.05,
    claim_rules: SafeguardSettings | None = None,
    use_property: bool = True,
) -> dict[str, Any]:
    """Ranked offenders, series and groups for one incident, each with its evidence. With `use_property`,
    an item of the seed seen again links the incident it was seen in (score 1) and makes the person who
    sold or held it a candidate (score 1), the item named as the evidence."""
    scores = score_seed(store, incident_id, agency=agency)
    keep = scores.probability >= min_probability
    linked = pd.DataFrame(
        {
            "agency": scores.agency[keep].astype(str),
            "incident_id": scores.incident_id[keep].astype(str),
            "probability": scores.probability[keep],
        }
    )
    identities = has_identities(store)
    seed, run_id = (scores.seed.agency, scores.seed.incident_id), scores.artefact.run_id
    items = item_evidence(store, run_id, *seed, identities) if use_property else pd.DataFrame()
    linked = _with_item_links(linked, items, seed)
    roles = settings.offender_roles
    with store.registered(LINKED, linked):
        offenders = store.df(offenders_sql(len(roles), identities), roles)
        held = store.df(held_sql(identities), [run_id, run_id]) if use_property else pd.DataFrame()
        series = store.df(series_sql(), [run_id])
        valid = f"({valid_claims_sql('membership_claims', claim_rules or SafeguardSettings())})"
        claims = store.df(claims_sql(identities, valid))
    receivers = _receivers(store, run_id, settings, identities) if use_property else {}
    candidates = pd.concat([held, _holders(items, seed)], ignore_index=True)
    if len(candidates):
        candidates = candidates[~candidates["offender"].isin(receivers)]
    offenders = pd.concat([offenders, candidates], ignore_index=True)
    ranked_offenders = _rank_offenders(offenders, top, items)
    return {
        "seed": {"agency": scores.seed.agency, "incident_id": scores.seed.incident_id},
        "run_id": scores.artefact.run_id,
        **scores.artefact.about(),
        "candidates": len(scores.log_odds),
        "linked_incidents": len(linked),
        "items": [describe_sighting(r) for _, r in items.iterrows()],
        "offenders": ranked_offenders,
        "receivers": _named_receivers(items, receivers),
        "series": _rank_series(series, top),
        "groups": _rank_groups(offenders, claims, top),
    }


def held_sql(with_identities: bool) -> str:
    """Persons who sold or held an item taken in a linked incident, as candidates scored by that incident's
    link (a holder counts like a known offender of the incident). Parameters: run_id, run_id."""
    return (
        f"SELECT h.holder AS offender, h.agency AS record_agency, h.record_id, c.agency, c.incident_id, "
        f"c.probability, h.sighting, h.seen FROM ({holdings_sql(with_identities)}) h JOIN {quote(LINKED)} c "
        "ON c.agency = h.t_agency AND c.incident_id = h.t_incident"
    )


def _receivers(store: Store, run_id: str, settings: LinkageSettings, identities: bool) -> dict[str, int]:
    """Holders of items from incidents of many other known offenders (receivers, fences) -> how many."""
    roles = settings.offender_roles
    known = known_offenders_sql(len(roles), identities)
    rows = store.rows(
        receivers_sql(known, identities), [run_id, run_id, *roles, settings.receiver_min_offenders]
    )
    return {holder: int(n) for holder, n in rows}


def _named_receivers(items: pd.DataFrame, receivers: dict[str, int]) -> list[dict[str, Any]]:
    """Receivers who sold or held an item of the seed: named with the items, not taken for its offender."""
    if items.empty:
        return []
    mine = items[items["holder"].isin(receivers)]
    return [
        {
            "person": holder,
            "other_offenders": receivers[holder],
            "items": [describe_sighting(r) for _, r in rows.iterrows()],
        }
        for holder, rows in mine.groupby("holder")
    ]


def _with_item_links(linked: pd.DataFrame, items: pd.DataFrame, seed: tuple[str, str]) -> pd.DataFrame:
    """The model's linked incidents plus those an item of the seed was seen in (probability 1)."""
    if items.empty:
        return linked
    hard = items[items["incident_id"].notna()][["agency", "incident_id"]].drop_duplicates()
    hard = hard[(hard["agency"] != seed[0]) | (hard["incident_id"] != seed[1])].assign(probability=1.0)
    both = pd.concat([linked, hard], ignore_index=True)
    return both.groupby(["agency", "incident_id"], as_index=False, sort=False)["probability"].max()


def _holders(items: pd.DataFrame, seed: tuple[str, str]) -> pd.DataFrame:
    """Persons who sold or held an item of the seed, as offender candidates with the seed as their incident."""
    if items.empty:
        return pd.DataFrame()
    held = items[items["holder"].notna()]
    return pd.DataFrame(
        {
            "offender": held["holder"],
            "record_agency": held["agency"],
            "record_id": held["record_id"],
            "agency": seed[0],
            "incident_id": seed[1],
            "probability": 1.0,
        }
    )


def _evidence(frame: pd.DataFrame, limit: int = 5) -> list[dict[str, Any]]:
    best = (
        frame.sort_values("probability", ascending=False)
        .drop_duplicates(["agency", "incident_id"])
        .head(limit)
    )
    return [
        {"agency": a, "incident_id": i, "probability": round(float(p), 4)}
        for a, i, p in best[["agency", "incident_id", "probability"]].itertuples(index=False)
    ]


def _rank_offenders(offenders: pd.DataFrame, top: int, items: pd.DataFrame) -> list[dict[str, Any]]:
    """Offenders by their best link; an item they sold or held, or one seen in an incident they are known
    for, is named (`items`) beside the incidents."""
    out = []
    for offender, rows in offenders.groupby("offender"):
        backed = _items_behind(items, offender, rows)
        records = sorted(
            {f"{a}:{r}" for a, r in rows[["record_agency", "record_id"]].itertuples(index=False)}
        )
        out.append(
            {
                "offender": offender,
                "score": round(float(rows["probability"].max()), 4),
                "linked_incidents": int(rows[["agency", "incident_id"]].drop_duplicates().shape[0]),
                "records": records,
                "evidence": _evidence(rows),
                **({"items": backed} if backed else {}),
                **_held(rows),
            }
        )
    return sorted(out, key=lambda d: -d["score"])[:top]


def _held(rows: pd.DataFrame) -> dict[str, Any]:
    """`held`: items of linked incidents the person sold or held (what makes them a candidate there)."""
    if "sighting" not in rows:
        return {}
    held = rows[rows["sighting"].notna()].drop_duplicates("sighting")
    if held.empty:
        return {}
    return {
        "held": [
            {"incident_id": i, "agency": a, "sighting": s, "seen": k, "probability": round(float(p), 4)}
            for a, i, s, k, p in held[
                ["agency", "incident_id", "sighting", "seen", "probability"]
            ].itertuples(index=False)
        ]
    }


def _items_behind(items: pd.DataFrame, offender: Any, rows: pd.DataFrame) -> list[dict[str, Any]]:
    """The item links behind an offender's score: items they held, or seen in an incident they are known for."""
    if items.empty:
        return []
    incidents = set(zip(rows["agency"], rows["incident_id"], strict=True))
    mine = items[
        (items["holder"] == offender)
        | pd.Series(
            [k in incidents for k in zip(items["agency"], items["incident_id"], strict=True)],
            index=items.index,
        )
    ]
    return [describe_sighting(r) for _, r in mine.iterrows()]


def _rank_series(series: pd.DataFrame, top: int) -> list[dict[str, Any]]:
    out = []
    for series_id, rows in series.groupby("series_id"):
        evidence = _evidence(rows)
        confidence = rows.set_index("incident_id")["confidence"]
        for item in evidence:
            item["member_confidence"] = round(float(confidence.get(item["incident_id"], 0.0)), 4)
        out.append(
            {
                "series_id": series_id,
                "score": round(float(rows["probability"].max()), 4),
                "size": int(rows["size"].iloc[0]),
                "evidence": evidence,
            }
        )
    return sorted(out, key=lambda d: -d["score"])[:top]


def _rank_groups(offenders: pd.DataFrame, claims: pd.DataFrame, top: int) -> list[dict[str, Any]]:
    if offenders.empty or claims.empty:
        return []
    best = offenders.groupby("offender")["probability"].max().rename("score").reset_index()
    joined = best.merge(claims, on="offender")
    out = []
    for (group_id, name), rows in joined.groupby(["group_id", "group_name"], dropna=False):
        members = rows.sort_values("score", ascending=False).drop_duplicates("offender")
        out.append(
            {
                "group_id": group_id,
                "name": None if pd.isna(name) else name,
                "score": round(float(members["score"].max()), 4),
                "members": [
                    {"offender": o, "score": round(float(s), 4)}
                    for o, s in members[["offender", "score"]].itertuples(index=False)
                ],
                "claims": [
                    {"claim_id": c, "agency": a, "record_id": r, "criteria": list(k) if k is not None else []}
                    for c, a, r, k in rows[["claim_id", "claim_agency", "record_id", "criteria"]].itertuples(
                        index=False
                    )
                ],
                "evidence": _evidence(offenders[offenders["offender"].isin(members["offender"])]),
            }
        )
    return sorted(out, key=lambda d: -d["score"])[:top]
