"""/api/health, /api/me, /api/status, /api/schema, /api/audit; exports and the group report (disseminations)."""

from __future__ import annotations

import csv
import io
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from casegraph.api.auth import caller_of, session_of
from casegraph.api.reads import meta
from casegraph.api.reads.exports import incidents_csv
from casegraph.api.routes.common import ID, Paging, run
from casegraph.api.routes.incidents import Filters

router = APIRouter(tags=["workspace"])


@router.get("/health", summary="Liveness (no sign-in needed)")
async def health() -> Any:
    return {"ok": True}


@router.get("/me", summary="The signed-in user, role, agency, purpose; the CSRF token for changes")
async def me(request: Request) -> Any:
    caller = await caller_of(request, need_purpose=False)
    session = await session_of(request)
    return await run(
        request,
        lambda g: {**meta._me(g), "purpose": caller.purpose, "csrf": session.csrf if session else None},
        need_purpose=False,
    )


@router.get("/status", summary="Each stage: built, run or not; rows behind each view")
async def status(request: Request) -> Any:
    return await run(request, meta.status)


@router.get("/schema", summary="Declared tables and fields (protected fields marked)")
async def schema(request: Request) -> Any:
    await caller_of(request, need_purpose=False)
    return meta.schema()


@router.get("/audit", summary="The audit log, newest first (auditor, supervisor or admin)")
async def audit(
    request: Request,
    p: Paging,
    user: Annotated[str | None, Query(pattern=ID)] = None,
    action: Annotated[str | None, Query(pattern=ID)] = None,
) -> Any:
    return await run(
        request, lambda g: meta.audit(g, user=user, action=action, limit=p.limit, offset=p.offset)
    )


class Dissemination(BaseModel):
    model_config = ConfigDict(extra="forbid")
    recipient: str = Field(
        ..., min_length=2, max_length=200, description="Who receives it (person, unit, agency)."
    )
    purpose: str = Field(..., min_length=3, max_length=300, description="Need and right to know.")


class IncidentExport(Dissemination):
    format: Literal["csv"] = "csv"
    limit: int = Field(10_000, ge=1, le=100_000)


@router.post("/exports/incidents", summary="Export incidents as CSV (formulas made inert; a dissemination)")
async def export_incidents(request: Request, body: IncidentExport, f: Filters) -> Response:
    rows, columns = await run(
        request, lambda g: incidents_csv(g, f, body.recipient, body.purpose, body.limit), alone=True
    )
    return Response(
        _csv(rows, columns),
        media_type="text/csv; charset=utf-8",
        headers={"content-disposition": 'attachment; filename="incidents.csv"'},
    )


def _csv(rows: list[list[Any]], columns: list[str]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(columns)
    writer.writerows(rows)
    return buffer.getvalue()


@router.post(
    "/reports/group/{group}", summary="The group report as HTML (a dissemination: who, for whom, why)"
)
async def group_report(request: Request, group: str, body: Dissemination) -> Response:
    from casegraph.api.report import build_report

    html = await run(
        request, lambda g: build_report(g, group, recipient=body.recipient, purpose=body.purpose), alone=True
    )
    return Response(html, media_type="text/html; charset=utf-8")
