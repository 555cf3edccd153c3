"""`attribute`: the known offenders, series and groups an (unsolved) incident most likely belongs to.

The seed is scored against its candidates (query.score_seed). A known offender scores the highest link
probability between the seed and any incident that offender is known for (links to one offender's
incidents are not independent events, so they are not multiplied together); a series scores its best
link to a member; a group scores its best-scoring member offender, through
the membership claims recorded for the offender's records (or, once resolve has run, for any record of
the same person). Every score lists the incidents, records and claims behind it.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

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
) -> dict[str, Any]:
    """Ranked offenders, series and groups for one incident, each with its evidence."""
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
    with store.registered(LINKED, linked):
        offenders = store.df(offenders_sql(len(settings.offender_roles), identities), settings.offender_roles)
        series = store.df(series_sql(), [scores.artefact.run_id])
        valid = f"({valid_claims_sql('membership_claims', claim_rules or SafeguardSettings())})"
        claims = store.df(claims_sql(identities, valid))
    ranked_offenders = _rank_offenders(offenders, top)
    return {
        "seed": {"agency": scores.seed.agency, "incident_id": scores.seed.incident_id},
        "run_id": scores.artefact.run_id,
        **scores.artefact.about(),
        "candidates": len(scores.log_odds),
        "linked_incidents": len(linked),
        "offenders": ranked_offenders,
        "series": _rank_series(series, top),
        "groups": _rank_groups(offenders, claims, top),
    }


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


def _rank_offenders(offenders: pd.DataFrame, top: int) -> list[dict[str, Any]]:
    out = []
    for offender, rows in offenders.groupby("offender"):
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
            }
        )
    return sorted(out, key=lambda d: -d["score"])[:top]


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
