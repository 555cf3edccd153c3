"""/api/alerts: the inbox; an analyst acknowledges an alert with a note (a change: CSRF-protected, audited)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from casegraph.api.reads import activity
from casegraph.api.routes.common import ID, IdQuery, Paging, run

router = APIRouter(tags=["alerts"])
AlertId = Annotated[str, Path(pattern=ID)]


class Acknowledgement(BaseModel):
    model_config = ConfigDict(extra="forbid")
    status: Literal["acknowledged", "dismissed", "open"] = "acknowledged"
    note: str = Field("", max_length=4000, description="What was checked or decided.")


@router.get(
    "/alerts",
    summary="Alerts: new and growing ties, spread to new areas, rising activity, near-repeat risk (expires)",
)
async def list_alerts(
    request: Request,
    p: Paging,
    status: Literal["open", "acknowledged", "dismissed", "expired"] | None = None,
    kind: IdQuery = None,
    group: IdQuery = None,
    since: Annotated[
        datetime | None, Query(description="Only alerts first raised after this time (an answer's `latest`)")
    ] = None,
) -> Any:
    return await run(
        request,
        lambda g: activity.alerts(
            g, status=status, kind=kind, group=group, limit=p.limit, offset=p.offset, since=since
        ),
    )


@router.get("/alerts/{alert_id}", summary="One alert with its evidence records")
async def get_alert(request: Request, alert_id: AlertId) -> Any:
    return await run(request, lambda g: activity.alert(g, alert_id))


@router.post(
    "/alerts/{alert_id}/acknowledge", summary="Acknowledge (or dismiss, or reopen) an alert with a note"
)
async def acknowledge(request: Request, alert_id: AlertId, body: Acknowledgement) -> Any:
    note = body.note.strip() or None
    return await run(request, lambda g: activity.acknowledge(g, alert_id, body.status, note), alone=True)
