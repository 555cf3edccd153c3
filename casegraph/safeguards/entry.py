"""Entering a membership claim through casegraph (the Python API; imports go through ingest)."""

from __future__ import annotations

from datetime import date

from casegraph.errors import ClaimRefused
from casegraph.safeguards.claims import check_claim, claim_frame, claim_row, refuse_if_invalid
from casegraph.safeguards.session import Session


def add_claim(
    g: Session,
    *,
    record_id: str,
    group_id: str,
    criteria: list[str],
    evidence: list[str],
    approved_by: str | None = None,
    review_date: date | None = None,
    claim_id: str | None = None,
    agency: str | None = None,
) -> str:
    """Store one claim of the user's agency (an embedded store's owner names the agency), or raise
    ClaimRefused naming every rule it breaks."""
    g.require("ingest", "membership_claims")
    owner = g.user.agency or agency
    if owner is None or (g.user.agency and agency and agency != g.user.agency):
        raise ClaimRefused(
            "say which agency's claim this is (agency=...)"
            if owner is None
            else f"{g.user.describe()} enters claims of {g.user.agency} only, not {agency}"
        )
    row = claim_row(
        g.user.user_id,
        owner,
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
    problems += approver_problems(g, approved_by)
    try:
        refuse_if_invalid(problems, row["claim_id"])
    except ClaimRefused as exc:
        g.log("denied", f"membership_claims:{row['claim_id']}", str(exc), outcome="denied: claim refused")
        raise
    g.write("membership_claims", claim_frame([row]))
    return str(row["claim_id"])


def approver_problems(g: Session, approved_by: str | None) -> list[tuple[str, str]]:
    """On a server, an approval must name a supervisor of the claim's agency; an embedded store has no users
    (its owner records who approved, as the paper file would)."""
    if not approved_by or g.user.agency is None:
        return []
    found = g.rows("SELECT role, agency FROM users WHERE user_id = ?", [approved_by])
    if found and tuple(found[0]) == ("supervisor", g.user.agency):
        return []
    return [("approved_by", f"{approved_by} is not a supervisor of {g.user.agency} in casegraph")]
