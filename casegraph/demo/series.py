"""The plan of crime series: who offends together, when, how often and where (compact numpy arrays).

A *series* is one burst of 2-25 incidents committed by one fixed set of 1-3 offenders (the lead first)
over a few days to weeks, with the lead's (or the lead's group's) MO. Only start, length and offenders
are planned here; the incidents themselves are drawn while streaming, so nothing scales with n in memory
beyond a few bytes per series.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import numpy as np

from casegraph.demo.config import DAY, sub_rng
from casegraph.demo.world import World

REGULAR, TIE, SPREAD, CROSS = 0, 1, 2, 3
# (start s, size, offenders, forced district or -1, kind, duration s)
Special = tuple[int, int, list[int], int, int, int]


@dataclass
class SeriesPlan:
    start: np.ndarray  # int64 seconds since the span's start, ascending
    dur: np.ndarray  # int64 seconds
    size: np.ndarray  # int64 incidents
    who: np.ndarray  # (S, 3) int64 offenders, -1 padded; column 0 is the lead
    district: np.ndarray  # int64 forced district, -1 = the lead's usual ground
    kind: np.ndarray  # int8 REGULAR, TIE, SPREAD or CROSS

    def __len__(self) -> int:
        return len(self.start)


def tie_series_count(n_incidents: int) -> int:
    return int(np.clip(round(n_incidents / 1500), 4, 30))


def _special(
    rng: random.Random, start_lo: int, span_s: int, lead: int, co: list[int], district: int, kind: int
) -> Special:
    size = {TIE: rng.randint(2, 4), SPREAD: rng.randint(3, 5)}.get(kind, rng.randint(2, 3))
    dur = int(size * rng.uniform(1.0, 3.0) * DAY)
    start = start_lo if kind == SPREAD else rng.randrange(start_lo, max(start_lo + 1, span_s - dur - DAY))
    return start, size, [lead, *co], district, kind, dur


def _tie_series(world: World, rng: random.Random) -> list[Special]:
    """After the onset (never before) G01 and G02 members offend together in their shared district."""
    a, b, shared = world.tie
    members = (world.groups[a].members.tolist(), world.groups[b].members.tolist())
    lo, span_s = world.tie_onset() + 4 * DAY, world.cfg.span_days * DAY
    out = []
    for k in range(tie_series_count(world.cfg.n_incidents)):
        side = rng.randrange(2)
        co = rng.sample(members[1 - side], rng.choice((1, 1, 2)))
        out.append(_special(rng, lo, span_s, rng.choice(members[side]), co, shared, TIE))
        if k == 0:  # the first joint series follows the onset within days, so the onset is observable
            out[0] = (lo + rng.randrange(10 * DAY), *out[0][1:])
    return out


def _spread_series(world: World, rng: random.Random) -> list[Special]:
    """One series opens each new district of G03, four days after its opening date."""
    members = world.groups[world.spread_group].members.tolist()
    span_s = world.cfg.span_days * DAY
    out = []
    for area, opens in zip(world.spread_areas, world.spread_open, strict=True):
        lead, *co = rng.sample(members, 2 if rng.random() < 0.5 else 1)
        out.append(_special(rng, opens + 4 * DAY, span_s, lead, co, area, SPREAD))
    return out


def opening_series(plan: SeriesPlan) -> frozenset[int]:
    """The series that open something planted: each new district of the spreading group, and the first
    joint series of the tied groups (the one that follows the tie's onset)."""
    tie = np.flatnonzero(plan.kind == TIE)
    first_tie = [int(tie[np.argmin(plan.start[tie])])] if len(tie) else []
    return frozenset(np.flatnonzero(plan.kind == SPREAD).tolist() + first_tie)


def spread_crews(plan: SeriesPlan) -> frozenset[int]:
    """The offenders of the series that open the spreading group's new districts."""
    who = plan.who[plan.kind == SPREAD]
    return frozenset(int(o) for o in who[who >= 0])


def _cross_series(world: World, rng: random.Random) -> list[Special]:
    """Rare co-offending across other groups, only where their home districts overlap; fewer than the tie."""
    tie_pair = {world.tie[0], world.tie[1]}
    pairs = []
    for g in world.groups:
        for h in world.groups[g.index + 1 :]:
            shared = sorted(set(g.home) & set(h.home))
            if shared and {g.index, h.index} != tie_pair:
                pairs.append((g, h, shared))
    out: list[Special] = []
    span_s = world.cfg.span_days * DAY
    for _ in range(tie_series_count(world.cfg.n_incidents) // 2 if pairs else 0):
        g, h, shared = rng.choice(pairs)
        lead, co = rng.choice(g.members.tolist()), rng.choice(h.members.tolist())
        out.append(_special(rng, DAY, span_s, lead, [co], rng.choice(shared), CROSS))
    return out


def _regular_sizes(gen: np.random.Generator, total: int) -> np.ndarray:
    """Series lengths (2-25, mean about 6) summing exactly to ``total``."""
    sizes = np.minimum(25, 1 + gen.geometric(0.2, size=total // 2 + 10))
    cum = np.cumsum(sizes)
    cut = int(np.searchsorted(cum, total))
    sizes = sizes[: cut + 1].copy()
    sizes[-1] -= int(cum[cut]) - total
    if sizes[-1] < 1:
        sizes = sizes[:-1]
    return sizes.astype(np.int64)


def _co_offenders(world: World, gen: np.random.Generator, who: np.ndarray) -> None:
    """Group leads bring 0-2 fellow members; solo leads occasionally one other solo offender."""
    r = gen.random(len(who))
    lead_group = world.group_of[who[:, 0]]
    for g in world.groups:
        idx = np.flatnonzero(lead_group == g.index)
        picks = g.members[gen.integers(0, len(g.members), size=(len(idx), 2))]
        one = (r[idx] < 0.45) & (picks[:, 0] != who[idx, 0])
        two = one & (r[idx] < 0.15) & (picks[:, 1] != who[idx, 0]) & (picks[:, 1] != picks[:, 0])
        who[idx[one], 1] = picks[one, 0]
        who[idx[two], 2] = picks[two, 1]
    solos = np.flatnonzero(world.group_of < 0)
    idx = np.flatnonzero((lead_group < 0) & (r < 0.1))
    if len(solos) > 1 and len(idx):
        partner = solos[gen.integers(0, len(solos), len(idx))]
        keep = partner != who[idx, 0]
        who[idx[keep], 1] = partner[keep]


def _regular(world: World, gen: np.random.Generator, total: int) -> dict[str, np.ndarray]:
    sizes = _regular_sizes(gen, total)
    n = len(sizes)
    weights = world.activity / world.activity.sum()
    who = np.full((n, 3), -1, np.int64)
    who[:, 0] = gen.choice(len(weights), size=n, p=weights)
    _co_offenders(world, gen, who)
    dur_days = np.clip(sizes * gen.uniform(1.5, 4.0, n), 1.0, 45.0)
    start_days = gen.uniform(0.0, world.cfg.span_days - dur_days - 1.0)
    return {
        "start": (start_days * DAY).astype(np.int64),
        "dur": (dur_days * DAY).astype(np.int64),
        "size": sizes,
        "who": who,
        "district": np.full(n, -1, np.int64),
        "kind": np.zeros(n, np.int8),
    }


def _assign_spread(world: World, plan: dict[str, np.ndarray], rng: random.Random) -> None:
    """After each opening, about a third of G03's series move into one of its opened new districts."""
    spread = np.flatnonzero(world.group_of[plan["who"][:, 0]] == world.spread_group)
    for s in spread.tolist():
        opened = [
            a
            for a, t0 in zip(world.spread_areas, world.spread_open, strict=True)
            if plan["start"][s] >= t0 + 4 * DAY
        ]
        if opened and rng.random() < 0.35:
            plan["district"][s] = rng.choice(opened)


def plan_series(world: World) -> SeriesPlan:
    cfg = world.cfg
    rng = sub_rng(cfg.seed, "plan")
    gen = np.random.default_rng([cfg.seed, 3])
    special = _tie_series(world, rng) + _spread_series(world, rng) + _cross_series(world, rng)
    total = cfg.n_incidents - round(cfg.n_incidents * cfg.background_share)
    plan = _regular(world, gen, total - sum(s[1] for s in special))
    _assign_spread(world, plan, rng)
    who = np.full((len(special), 3), -1, np.int64)
    for i, s in enumerate(special):
        who[i, : len(s[2])] = s[2]
    extra = {
        "start": np.array([s[0] for s in special], np.int64),
        "dur": np.array([s[5] for s in special], np.int64),
        "size": np.array([s[1] for s in special], np.int64),
        "who": who,
        "district": np.array([s[3] for s in special], np.int64),
        "kind": np.array([s[4] for s in special], np.int8),
    }
    order = np.argsort(np.concatenate([extra["start"], plan["start"]]), kind="stable")
    return SeriesPlan(**{k: np.concatenate([extra[k], plan[k]])[order] for k in extra})
