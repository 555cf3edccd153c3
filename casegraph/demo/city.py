"""Put the city together: world, person records, streamed incidents and contacts, claims, truth files."""

from __future__ import annotations

import bisect
import json
from dataclasses import asdict
from operator import itemgetter
from pathlib import Path
from typing import Any

import numpy as np

from casegraph.demo.claims import ClaimWriter, write_groups
from casegraph.demo.config import DAY, CityConfig, Clock
from casegraph.demo.events import Contacts, Evidence
from casegraph.demo.incidents import IncidentMaker, Pending
from casegraph.demo.links import Linker
from casegraph.demo.property import PropertyMaker
from casegraph.demo.records import People
from casegraph.demo.series import SeriesPlan, opening_series, plan_series, spread_crews
from casegraph.demo.world import World, build_world
from casegraph.demo.writer import Tables
from casegraph.progress import NoProgress, Progress

SERIES_DEFINITION = (
    "A series is one burst of incidents (days to weeks) by one fixed set of 1-3 offenders with the MO of "
    "the lead's group or the lead's own. Background incidents have a one-off offender B<incident number> "
    "and no series id."
)


def background_per_day(cfg: CityConfig) -> np.ndarray:
    """Background incidents per day: a mild summer peak and busier weekends, summing exactly."""
    n_bg = round(cfg.n_incidents * cfg.background_share)
    days = np.arange(cfg.span_days)
    weekday = (cfg.start_date.weekday() + days) % 7
    weights = (1 + 0.15 * np.sin(2 * np.pi * (days - 110) / 365.25)) * np.where(weekday >= 4, 1.1, 1.0)
    gen = np.random.default_rng([cfg.seed, 5])
    return gen.multinomial(n_bg, weights / weights.sum())


def stream(
    world: World,
    plan: SeriesPlan,
    maker: IncidentMaker,
    linker: Linker,
    contacts: Contacts,
    progress: Progress,
) -> int:
    """Draw incidents a window of days at a time (~chunk_rows each) and emit them day by day.

    Series are drawn whole when their window opens and wait in ``pending`` until their day comes; every
    random draw is keyed by series or day, so the output does not depend on the window size.
    """
    cfg = world.cfg
    per_day = background_per_day(cfg).tolist()
    width = max(1, min(cfg.span_days, cfg.span_days * cfg.chunk_rows // cfg.n_incidents))
    pending: list[Pending] = []
    nxt, num = 0, 1
    for d0 in range(0, cfg.span_days, width):
        days = range(d0, min(cfg.span_days, d0 + width))
        while nxt < len(plan) and plan.start[nxt] < days.stop * DAY:
            pending.extend(maker.series_rows(nxt))
            nxt += 1
        for d in days:
            pending.extend(maker.background_rows(d, per_day[d]))
        pending.sort(key=itemgetter(0, 1))
        pos = 0
        for d in days:
            cut = bisect.bisect_left(pending, (d + 1) * DAY, lo=pos, key=itemgetter(0))
            linker.emit(pending[pos:cut], num)
            contacts.day(d)
            num, pos = num + cut - pos, cut
        del pending[:pos]
        progress.advance(pos)
    assert not pending, "every series ends inside the span"
    return num - 1


def write_truth(world: World, tables: Tables, linker: Linker, clock: Clock) -> dict[str, Any]:
    """Tie and spread truth as planted (onset) and as observed (first dates); returned for city.json."""
    a, b, shared = world.tie
    onset = clock.day(world.tie_onset())
    ga, gb, gs = (world.groups[i].group_id for i in (a, b, world.spread_group))
    tables.write("group_tie_truth", [ga, gb, onset])
    spread = []
    for area, opens in zip(world.spread_areas, world.spread_open, strict=True):
        code = world.geo.code(area)
        first = linker.spread_first.get(code, "")
        if first:
            tables.write("spread_truth", [gs, code, first])
        spread.append({"area": code, "opens": clock.day(opens), "first_date": first})
    return {
        "tie": {
            "group_a": ga,
            "group_b": gb,
            "onset": onset,
            "shared_area": world.geo.code(shared),
            "joint_incidents": len(linker.tie_dates),
            "first_joint": min(linker.tie_dates, default=""),
        },
        "spread": {"group_id": gs, "start": clock.day(world.spread_open[0]), "areas": spread},
    }


def describe(world: World, plan: SeriesPlan) -> dict[str, Any]:
    groups = [
        {
            "group_id": g.group_id,
            "name": g.name,
            "kind": g.kind,
            "members": len(g.members),
            "home": [world.geo.code(d) for d in g.home],
        }
        for g in world.groups
    ]
    return {
        "groups": groups,
        "offenders": len(world.group_of),
        "series": len(plan),
        "series_definition": SERIES_DEFINITION,
    }


def make_city(
    out_dir: str | Path,
    n_incidents: int = 4000,
    seed: int = 7,
    progress: Progress | None = None,
    config: CityConfig | None = None,
) -> dict[str, Any]:
    """Write a synthetic city (record CSVs, truth CSVs, city.json) into ``out_dir``; return its summary.

    ``config`` overrides ``n_incidents`` and ``seed`` when given. Memory stays flat in n_incidents.
    """
    cfg = config if config is not None else CityConfig(n_incidents=n_incidents, seed=seed)
    out, progress = Path(out_dir), progress or NoProgress()
    with Tables(out) as tables:
        world, clock = build_world(cfg), Clock(cfg)
        people = People(tables, cfg.agencies, cfg.seed, cfg.start_date)
        people.write_offenders(world)
        write_groups(world, tables)
        plan = plan_series(world)
        evidence = Evidence(cfg.n_offenders)
        contacts = Contacts(world, tables, clock, evidence)
        stolen = PropertyMaker(world, tables, clock, people.identities)
        linker = Linker(world, tables, clock, people, contacts, evidence, opening_series(plan), stolen)
        progress.start(cfg.n_incidents, "incidents")
        stream(world, plan, IncidentMaker(world, plan, clock), linker, contacts, progress)
        progress.finish()
        ClaimWriter(world, tables, clock, evidence).write_all(spread_crews(plan))
        truth = write_truth(world, tables, linker, clock) | {"property": stolen.truth()}
        counts = {f"{t}.csv": c for t, c in tables.counts.items()}
    summary = {
        "seed": cfg.seed,
        "n_incidents": cfg.n_incidents,
        "counts": counts,
        **truth,
        **describe(world, plan),
    }
    (out / "city.json").write_text(json.dumps({"config": asdict(cfg), **summary}, indent=2) + "\n")
    return summary
