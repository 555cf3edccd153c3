"""What every route shares: run a read as the signed-in caller on the store thread; paging parameters."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, TypeVar

from fastapi import Depends, Query, Request

from casegraph.api.auth import caller_of
from casegraph.api.workspace import Workspace
from casegraph.safeguards import Session

T = TypeVar("T")
ID = r"^[A-Za-z0-9_.:/|\-]{1,128}$"  # ids as agencies write them; anything else is refused with a 422


async def run(
    request: Request, fn: Callable[[Session], T], *, need_purpose: bool = True, alone: bool = False
) -> T:
    """fn(guarded store of the caller), on the store thread; a refusal or failure becomes a JSON answer."""
    caller = await caller_of(request, need_purpose=need_purpose)
    ws: Workspace = request.app.state.ws
    return await ws.call(caller, fn, alone=alone)


@dataclass
class Page:
    limit: int
    offset: int


async def page(  # async: FastAPI runs a plain def dependency on its thread pool, a hop per request
    limit: int = Query(50, ge=1, le=500, description="Rows per page (1-500)."),
    offset: int = Query(0, ge=0, le=10_000_000, description="Rows to skip."),
) -> Page:
    return Page(limit, offset)


Paging = Annotated[Page, Depends(page)]
IdQuery = Annotated[str | None, Query(pattern=ID, max_length=128)]
