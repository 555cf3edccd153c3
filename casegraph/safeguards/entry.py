"""Entering a membership claim through casegraph (the Python API; imports go through ingest)."""

from __future__ import annotations

from datetime import date

from casegraph.errors import ClaimRefused
from casegraph.safeguards.claims import check_claim, claim_frame, claim_row, refuse_if_invalid
from casegraph.safeguards.guard import GuardedStore
from casegraph.safeguards.identity import load_user


def add_claim(
    g: GuardedStore,
    *,
    record_id: str,
    group_id: str,
    criteria: list[str],
    evidence: list[str],
    approved_by: str | None = None,
    review_date: date | None = None,
    claim_id: str | None = None,
) -> str:
    """Store one claim of the user's agency, or raise ClaimRefused naming every rule it breaks."""
    g.require("ingest", "membership_claims")
    row = claim_row(
        g.user.user_id,
        g.user.agency,
        {
            "claim_id": claim_id,
            "record_id": record_id,
            "group_id": group_id,
            "criteria": criteria,
            "evidence": evidence,
            "approved_by": approved_by,
            "review_date": review_date,
        },
    )
    problems = check_claim(g, g.rules, row)
    if approved_by:
        found = load_user(g.inner, approved_by)
        if found is None or found[0].role != "supervisor" or found[0].agency != g.user.agency:
            problems.append(
                ("approved_by", f"{approved_by} is not a supervisor of {g.user.agency} in casegraph")
            )
    try:
        refuse_if_invalid(problems, row["claim_id"])
    except ClaimRefused as exc:
        g.log("denied", f"membership_claims:{row['claim_id']}", str(exc), outcome="denied: claim refused")
        raise
    g.write("membership_claims", claim_frame([row]))
    return str(row["claim_id"])
