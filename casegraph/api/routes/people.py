"""/api/persons, /api/groups, /api/ties, /api/graph: identities, groups, ties and the link chart."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request

from casegraph.api.reads import activity, network, people
from casegraph.api.routes.common import ID, IdQuery, Paging, run

router = APIRouter(tags=["persons and groups"])
GroupId = Annotated[str, Path(pattern=r"^[^\x00-\x1f]{1,200}$", description="Group id or name.")]
NODE = r"^(group|person|incident):[A-Za-z0-9_.:/|\-]{1,160}$"


@router.get("/persons", summary="Persons (resolved identities) whose records match a name")
async def list_persons(
    request: Request, p: Paging, q: str | None = Query(None, min_length=2, max_length=100)
) -> Any:
    return await run(request, lambda g: people.persons(g, q, limit=p.limit, offset=p.offset))


@router.get(
    "/persons/{person_id:path}/why", summary="Why a pair of records is one person: the match-weight waterfall"
)
async def person_why(
    request: Request,
    person_id: Annotated[str, Path(pattern=ID)],
    a: Annotated[str, Query(pattern=ID)],
    b: Annotated[str, Query(pattern=ID)],
) -> Any:
    from casegraph.api.reads.identity import waterfall

    return await run(request, lambda g: waterfall(g, person_id, a, b), alone=True)


@router.get(
    "/persons/{person_id:path}",
    summary="A person: source records with match weights, claims, incidents, ties",
)
async def get_person(request: Request, person_id: Annotated[str, Path(pattern=ID)]) -> Any:
    return await run(request, lambda g: people.person(g, person_id))


@router.get("/groups", summary="Groups with member and incident counts and their trend")
async def list_groups(request: Request) -> Any:
    return await run(request, people.groups)


@router.get("/groups/{group}", summary="A group: members with the criteria and evidence behind each claim")
async def get_group(request: Request, group: GroupId) -> Any:
    return await run(request, lambda g: people.group(g, group))


@router.get("/groups/{group}/incidents", summary="Incidents linked to a group, each with why")
async def group_incidents(request: Request, group: GroupId, p: Paging) -> Any:
    def read(g: Any) -> Any:
        return people.group_incidents(
            g, people.group_key(g, group)["group_id"], limit=p.limit, offset=p.offset
        )

    return await run(request, read)


@router.get("/groups/{group}/activity", summary="A group's activity over time, with its alerts marked")
async def group_activity(request: Request, group: GroupId, period: Literal["week", "month"] = "month") -> Any:
    return await run(request, lambda g: activity.activity(g, people.group_key(g, group)["group_id"], period))


@router.get(
    "/groups/{group}/item-flows", summary="Where a group's stolen items went: theft -> sighting, with places"
)
async def group_item_flows(request: Request, group: GroupId) -> Any:
    from casegraph.api.reads.items import group_item_flows as flows

    return await run(request, lambda g: flows(g, people.group_key(g, group)["group_id"]))


@router.get("/groups/{group}/areas", summary="A group's area over time (hull of its incidents per period)")
async def group_areas(
    request: Request, group: GroupId, period: Literal["month", "quarter", "year"] = "quarter"
) -> Any:
    return await run(
        request, lambda g: activity.group_areas(g, people.group_key(g, group)["group_id"], period)
    )


@router.get("/ties", summary="Ties between groups: strength, observed vs expected, p-value, onset")
async def list_ties(request: Request, p: Paging, group: IdQuery = None) -> Any:
    return await run(request, lambda g: network.ties(g, group, limit=p.limit, offset=p.offset))


@router.get("/ties/{group_a}/{group_b}", summary="One tie between two groups with its evidence records")
async def get_tie(
    request: Request, group_a: Annotated[str, Path(pattern=ID)], group_b: Annotated[str, Path(pattern=ID)]
) -> Any:
    return await run(request, lambda g: network.tie(g, group_a, group_b))


@router.get("/graph", summary="The link chart: groups, persons, incidents as nodes; typed, weighted ties")
async def get_graph(
    request: Request,
    group: Annotated[list[Annotated[str, Query(pattern=ID)]], Query(max_length=100)] = [],  # noqa: B006
    incidents: bool = True,
    start: Annotated[date | None, Query(alias="from")] = None,
    end: Annotated[date | None, Query(alias="to")] = None,
    limit: Annotated[int, Query(ge=1, le=5000)] = 5000,
) -> Any:
    gids = group or None
    return await run(
        request, lambda g: network.graph(g, gids, incidents=incidents, start=start, end=end, limit=limit)
    )


@router.get("/graph/expand", summary="The neighbours of one node of the link chart")
async def expand(
    request: Request, node: Annotated[str, Query(pattern=NODE)], limit: int = Query(500, ge=1, le=5000)
) -> Any:
    return await run(request, lambda g: network.expand(g, node, limit))
