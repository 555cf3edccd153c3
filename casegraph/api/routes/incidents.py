"""/api/incidents, /api/series, /api/links, /api/map: incidents and what links them."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request

from casegraph.api.reads import activity, incidents
from casegraph.api.reads.incidents import IncidentQuery
from casegraph.api.routes.common import ID, IdQuery, Paging, run
from casegraph.api.workspace import ApiProblem

router = APIRouter(tags=["incidents"])
BBOX = r"^-?\d+(\.\d+)?,-?\d+(\.\d+)?,-?\d+(\.\d+)?,-?\d+(\.\d+)?$"


async def incident_query(  # async: no thread-pool hop (see routes/common.page)
    start: Annotated[
        date | None, Query(alias="from", description="First day (YYYY-MM-DD), inclusive.")
    ] = None,
    end: Annotated[date | None, Query(alias="to", description="Last day (YYYY-MM-DD), inclusive.")] = None,
    area: Annotated[
        list[Annotated[str, Query(max_length=120)]], Query(max_length=200, description="Areas.")
    ] = [],  # noqa: B006
    offence: Annotated[
        list[Annotated[str, Query(max_length=60)]], Query(max_length=50, description="Offences.")
    ] = [],  # noqa: B006
    group: IdQuery = None,
    series: IdQuery = None,
    agency: IdQuery = None,
    bbox: str | None = Query(None, pattern=BBOX, description="x0,y0,x1,y1 in projected metres."),
    q: str | None = Query(None, min_length=2, max_length=200, description="Words in the narrative."),
) -> IncidentQuery:
    if start and end and start > end:
        raise ApiProblem(
            422,
            f"invalid parameters: from ({start}) is after to ({end})",
            reasons=[{"parameter": "query.from", "problem": "must not be after `to`"}],
        )
    box = tuple(float(v) for v in bbox.split(",")) if bbox else None
    if box and (box[0] > box[2] or box[1] > box[3]):
        raise ApiProblem(
            422,
            "invalid parameters: bbox must be x0,y0,x1,y1 with x0 <= x1 and y0 <= y1",
            reasons=[{"parameter": "query.bbox", "problem": "x0 <= x1 and y0 <= y1"}],
        )
    return IncidentQuery(start, end, area, offence, group, series, box, agency, q)  # type: ignore[arg-type]


Filters = Annotated[IncidentQuery, Depends(incident_query)]
IncidentId = Annotated[str, Path(pattern=ID)]


@router.get("/incidents", summary="Incidents, filtered by time, place, offence, group or series")
async def list_incidents(
    request: Request,
    f: Filters,
    p: Paging,
    order: Literal["-occurred_from", "occurred_from", "incident_id"] = "-occurred_from",
) -> Any:
    return await run(
        request, lambda g: incidents.incidents(g, f, limit=p.limit, offset=p.offset, order=order)
    )


@router.get("/incidents/{incident_id}", summary="One incident with its series, groups, people and arrests")
async def get_incident(request: Request, incident_id: IncidentId, agency: IdQuery = None) -> Any:
    return await run(request, lambda g: incidents.incident(g, incident_id, agency))


@router.get("/contacts/{contact_id}", summary="One contact event with the people who took part")
async def get_contact(request: Request, contact_id: IncidentId, agency: IdQuery = None) -> Any:
    return await run(request, lambda g: incidents.contact(g, contact_id, agency))


@router.get(
    "/items/{identifier}", summary="A stolen item's path: taken, then each later sighting, oldest first"
)
async def get_item(request: Request, identifier: Annotated[str, Path(pattern=ID)]) -> Any:
    from casegraph.api.reads.items import item_path

    return await run(request, lambda g: item_path(g, identifier))


@router.get("/incidents/{incident_id}/similar", summary="Similar incidents, each with the why of its score")
async def similar(
    request: Request, incident_id: IncidentId, agency: IdQuery = None, k: int = Query(10, ge=1, le=100)
) -> Any:
    return await run(request, lambda g: incidents.similar(g, incident_id, agency, k))


@router.get("/links/{link_id}", summary="An incident link: probability and per-feature contributions")
async def get_link(request: Request, link_id: Annotated[str, Path(pattern=ID)]) -> Any:
    return await run(request, lambda g: incidents.link(g, link_id))


@router.get("/series", summary="Crime series (clusters of linked incidents)")
async def list_series(request: Request, p: Paging, min_size: int = Query(2, ge=1, le=10_000)) -> Any:
    return await run(
        request, lambda g: incidents.series_list(g, min_size=min_size, limit=p.limit, offset=p.offset)
    )


@router.get("/series/{series_id}", summary="One series: members and the links among them")
async def get_series(request: Request, series_id: Annotated[str, Path(pattern=ID)]) -> Any:
    return await run(request, lambda g: incidents.one_series(g, series_id))


@router.get("/map/points", summary="Incidents as map points (projected metres), newest first")
async def map_points(request: Request, f: Filters, limit: int = Query(20_000, ge=1, le=100_000)) -> Any:
    return await run(request, lambda g: activity.points(g, f, limit))


@router.get("/map/areas", summary="Area boundaries derived from the incidents (convex hulls)")
async def map_areas(request: Request) -> Any:
    return await run(request, activity.areas)


@router.get("/hotspots", summary="Emerging hot spot classes per grid cell")
async def list_hotspots(
    request: Request,
    cls: Annotated[list[Annotated[str, Query(max_length=40)]], Query(alias="class", max_length=20)] = [],  # noqa: B006
    include_none: bool = False,
) -> Any:
    return await run(request, lambda g: activity.hotspots(g, cls, include_none))
