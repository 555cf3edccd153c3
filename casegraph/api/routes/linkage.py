"""/api/links/{link_id}/decision: an analyst decides a link from its "why" panel (a change: CSRF-protected,
audited), as `casegraph link decide` does."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Request
from pydantic import BaseModel, ConfigDict, Field

from casegraph.api.routes.common import ID, run
from casegraph.api.workspace import ApiProblem
from casegraph.safeguards import Session

router = APIRouter(tags=["incidents"])


class LinkDecision(BaseModel):
    model_config = ConfigDict(extra="forbid")
    decision: Literal["linked", "not-linked", "undo"]
    note: str = Field("", max_length=4000, description="Why (kept with the decision).")


def decide(g: Session, link_id: str, body: LinkDecision) -> dict[str, Any]:
    from casegraph.linkage import decisions

    found = g.rows(
        "SELECT agency_a, incident_a, agency_b, incident_b FROM incident_links WHERE link_id = ?", [link_id]
    )
    if not found:
        raise ApiProblem(404, f"no incident link {link_id}")
    a, b = found[0][:2], found[0][2:]
    if body.decision == "undo":
        return {"link_id": link_id, "undone": decisions.undo(g, a, b, user=g.user.user_id)}
    note = body.note.strip() or None
    return {"link_id": link_id, **decisions.decide(g, a, b, body.decision, user=g.user.user_id, note=note)}


@router.post("/links/{link_id}/decision", summary="Decide a link: linked, not-linked or undo, with a note")
async def decide_link(request: Request, link_id: Annotated[str, Path(pattern=ID)], body: LinkDecision) -> Any:
    return await run(request, lambda g: decide(g, link_id, body), alone=True)
