"""Why two records are one person: the match-weight waterfall of the resolve stage's model."""

from __future__ import annotations

from typing import Any

from casegraph.api.reads.common import stage_note
from casegraph.api.workspace import ApiProblem
from casegraph.safeguards import Session


def _key(ref: str) -> tuple[str, str]:
    agency, _, record_id = ref.partition("/")
    if not record_id:
        raise ApiProblem(
            422,
            f"records are named agency/record_id, not {ref!r}",
            reasons=[{"parameter": "query.a/b", "problem": "agency/record_id"}],
        )
    return agency, record_id


def waterfall(g: Session, person_id: str, a: str, b: str) -> dict[str, Any]:
    """Prior, then each comparison's match weight, for records a and b of this person."""
    note = stage_note(g, "person_identities")
    if note:
        return {"waterfall": [], **note}
    ka, kb = _key(a), _key(b)
    found = g.rows(
        "SELECT count(*) FROM person_identities WHERE person_id = ? AND list_contains(?, agency || '/' || "
        "record_id)",
        [person_id, [a, b]],
    )[0][0]
    if found != 2:
        raise ApiProblem(404, f"{a} and {b} are not both records of person {person_id}")
    from casegraph import resolve

    if not hasattr(resolve, "explain"):
        return {"waterfall": [], "status": "stage not run", "note": "the resolve stage offers no explanation"}
    result = resolve.explain(g, ka, kb)
    result.pop("html", None)
    return {"person_id": person_id, **result}
