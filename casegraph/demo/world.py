"""The people of the city: offenders, groups with territories and MO habits, the planted tie and spread."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import accumulate

import numpy as np

from casegraph.demo.config import DAY, CityConfig, Geo, sub_rng
from casegraph.demo.vocab import BODIES, BUILDS, CLOTHING, COLOURS, CREW_NAMES, DEFAULT_HOUR, MO, OFFENCES

MAX_ACTIVITY = 8.0  # cap of an offender's relative rate of series (the median is about 0.5)


@dataclass(frozen=True)
class Habits:
    """Modus operandi of a group or solo offender: what, how, when. Followed with ``consistency``."""

    offence_p: tuple[float, ...]
    offence_cum: tuple[float, ...]
    prefs: dict[str, dict[str, str]]
    props: dict[str, tuple[str, ...]]
    hour: dict[str, float]
    hour_sd: float
    dow: tuple[float, ...]
    vehicle: str
    clothing: str
    consistency: float

    def offence(self, rng: random.Random) -> str:
        return rng.choices(OFFENCES, cum_weights=self.offence_cum)[0]


def make_habits(rng: random.Random) -> Habits:
    """Habits peaked on one or two offences, one preferred code per MO field, a few preferred weekdays."""
    main, second = rng.sample(range(len(OFFENCES)), 2)
    weights = [0.03] * len(OFFENCES)
    weights[main], weights[second] = 0.7, 0.2
    prefs = {
        off: {f: rng.choice(MO[off][f]) for f in ("premises", "entry", "target", "other", "weapon")}
        for off in OFFENCES
    }
    props = {
        off: tuple(rng.sample(MO[off]["property"], min(2, len(MO[off]["property"])))) for off in OFFENCES
    }
    hour = {off: (h + rng.uniform(-3.0, 3.0)) % 24 for off, h in DEFAULT_HOUR.items()}
    dow = [1.0] * 7
    for d in rng.sample(range(7), 2):
        dow[d] = 3.0
    return Habits(
        offence_p=tuple(weights),
        offence_cum=tuple(accumulate(weights)),
        prefs=prefs,
        props=props,
        hour=hour,
        hour_sd=rng.uniform(1.0, 2.5),
        dow=tuple(dow),
        vehicle=f"{rng.choice(COLOURS)} {rng.choice(BODIES)}",
        clothing=rng.choice(CLOTHING),
        consistency=rng.uniform(0.75, 0.92),
    )


@dataclass
class Group:
    index: int
    group_id: str
    name: str
    kind: str
    home: tuple[int, ...]
    members: np.ndarray
    habits: Habits
    agency: str


@dataclass
class World:
    """Everything about offenders that incidents, records and claims need, in compact arrays."""

    cfg: CityConfig
    geo: Geo
    group_of: np.ndarray  # int16 per offender, -1 = solo
    anchor: np.ndarray  # (n, 2) metres
    dob: np.ndarray  # int64 proleptic ordinal
    male: np.ndarray  # bool
    height: np.ndarray  # int16 cm
    build: np.ndarray  # int8 index into BUILDS
    activity: np.ndarray  # float64 relative rate of series
    groups: list[Group]
    tie: tuple[int, int, int]  # group a, group b, shared district
    spread_group: int
    spread_areas: tuple[int, ...]
    spread_open: tuple[int, ...]  # seconds since start when each new district opens
    hotspots: np.ndarray  # (k, 2) background crime centres
    rec_start: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    rec_count: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int8))
    rec_agency: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int8))

    def habits_of(self, offender: int) -> Habits:
        g = int(self.group_of[offender])
        return self.groups[g].habits if g >= 0 else _solo_habits(self.cfg.seed, offender)

    def territory(self, g: int, t: int) -> frozenset[int]:
        """Districts group ``g`` may act in at time ``t`` (the spreading group gains new ones)."""
        home = set(self.groups[g].home)
        if g == self.spread_group:
            home.update(a for a, t0 in zip(self.spread_areas, self.spread_open, strict=True) if t >= t0)
        return frozenset(home)

    def tie_onset(self) -> int:
        return self.cfg.tie_onset_day * DAY

    def record_of(self, rng: random.Random, offender: int, agency: int | None) -> tuple[str, int]:
        """One of the offender's records (id, agency index): mostly the asking agency's own, else any."""
        start, count = int(self.rec_start[offender]), int(self.rec_count[offender])
        codes = self.rec_agency[start - 1 : start - 1 + count].tolist()
        if agency is not None and agency in codes and rng.random() < 0.85:
            k = codes.index(agency)
        else:
            k = rng.randrange(count)
        return f"R{start + k:07d}", codes[k]


@lru_cache(maxsize=2048)
def _solo_habits(seed: int, offender: int) -> Habits:
    # Derived on demand (a small cache) so half a million solo offenders cost no memory.
    return make_habits(sub_rng(seed, "solo", offender))


def _tie_homes(rng: random.Random, geo: Geo) -> tuple[list[int], list[int], int]:
    """G01 and G02 sit side by side sharing one district, where their joint crimes happen."""
    row, col = rng.randrange(geo.n), rng.randrange(geo.n - 2)
    a, shared, b = row * geo.n + col, row * geo.n + col + 1, row * geo.n + col + 2
    home_a, home_b = [a, shared], [shared, b]
    extra_a = [d for d in geo.neighbours(a) if d != shared]
    extra_b = [d for d in geo.neighbours(b) if d != shared]
    if rng.random() < 0.5 and extra_a:
        home_a.append(rng.choice(extra_a))
    if rng.random() < 0.5 and extra_b:
        home_b.append(rng.choice(extra_b))
    return home_a, home_b, shared


def _spread_homes(rng: random.Random, geo: Geo, taken: set[int]) -> tuple[list[int], list[int]]:
    """G03's home (two districts) and a chain of 2-3 new districts, each adjacent to ground held so far."""
    cells = [d for d in range(geo.n * geo.n) if d not in taken]
    rng.shuffle(cells)
    for centre in cells:
        nb = [d for d in geo.neighbours(centre) if d not in taken]
        if not nb:
            continue
        home = [centre, rng.choice(nb)]
        new: list[int] = []
        for _ in range(rng.choice((2, 3))):
            held = home + new
            frontier = sorted({d for h in held for d in geo.neighbours(h)} - set(held) - taken)
            if not frontier:
                break
            new.append(rng.choice(frontier))
        if len(new) >= 2:
            return home, new
    raise ValueError("city grid too small to place a spreading group")


def _other_homes(rng: random.Random, geo: Geo, n: int, banned: set[int]) -> list[list[int]]:
    """Other groups: a centre and 0-2 neighbours, never in the spreading group's new districts."""
    cells = [d for d in range(geo.n * geo.n) if d not in banned]
    homes = []
    for _ in range(n):
        centre = rng.choice(cells)
        nb = [d for d in geo.neighbours(centre) if d not in banned]
        homes.append([centre, *rng.sample(nb, min(len(nb), rng.randrange(3)))])
    return homes


def _offender_arrays(cfg: CityConfig, gen: np.random.Generator) -> dict[str, np.ndarray]:
    n = cfg.n_offenders
    age = gen.choice([15.0, 19.0, 26.0, 36.0], size=n, p=[0.12, 0.4, 0.3, 0.18])
    age = age + gen.uniform(0.0, 6.0, n) * np.where(age < 18, 0.5, 1.0)
    dob = cfg.start_date.toordinal() - (age * 365.25).astype(np.int64)
    male = gen.random(n) < 0.85
    height = np.where(male, gen.normal(177, 7, n), gen.normal(164, 6, n)).astype(np.int16)
    return {
        "dob": dob,
        "male": male,
        "height": height,
        "build": gen.integers(0, len(BUILDS), n).astype(np.int8),
        # Heavy-tailed like real offending careers, but capped: uncapped, one offender in a 4,000-incident
        # city committed 15 % of all crime, which no police record looks like.
        "activity": np.minimum(gen.pareto(1.8, n), MAX_ACTIVITY) + 0.3,
    }


def _assign_groups(cfg: CityConfig, gen: np.random.Generator) -> np.ndarray:
    """Shuffle offenders into groups (at least 6 members each) and solos, so ids reveal nothing."""
    n, k = cfg.n_offenders, cfg.n_groups
    n_members = max(6 * k, int(n * cfg.group_share))
    sizes = gen.uniform(0.6, 1.4, k)
    sizes = np.maximum(6, np.floor(sizes / sizes.sum() * n_members)).astype(np.int64)
    labels = np.full(n, -1, np.int16)
    labels[: int(sizes.sum())] = np.repeat(np.arange(k, dtype=np.int16), sizes)
    return gen.permutation(labels)


def _anchors(geo: Geo, rng: random.Random, group_of: np.ndarray, homes: list[list[int]]) -> np.ndarray:
    """Members live in their group's home districts; solos anywhere, denser towards the centre."""
    out = np.empty((len(group_of), 2))
    for o, g in enumerate(group_of.tolist()):
        if g >= 0:
            out[o] = geo.point_in(rng, rng.choice(homes[g]))
        else:
            half = geo.size / 2
            out[o] = geo.clip(rng.gauss(half, geo.size / 4), rng.gauss(half, geo.size / 4))
    return out


def _make_groups(
    cfg: CityConfig, rng: random.Random, homes: list[list[int]], labels: np.ndarray
) -> list[Group]:
    names = rng.sample(CREW_NAMES, cfg.n_groups)
    groups = []
    for g in range(cfg.n_groups):
        groups.append(
            Group(
                index=g,
                group_id=f"G{g + 1:02d}",
                name=names[g],
                kind=rng.choice(("gang", "crew")),
                home=tuple(sorted(homes[g])),
                members=np.flatnonzero(labels == g),
                habits=make_habits(rng),
                agency=cfg.agencies[1] if g == cfg.n_groups - 1 else cfg.agencies[0],
            )
        )
    return groups


def build_world(cfg: CityConfig) -> World:
    """Territories, offenders and groups. G01/G02 carry the planted tie, G03 the planted spread."""
    rng = sub_rng(cfg.seed, "world")
    gen = np.random.default_rng([cfg.seed, 1])
    geo = Geo(cfg)
    home_a, home_b, shared = _tie_homes(rng, geo)
    home_c, new = _spread_homes(rng, geo, set(home_a) | set(home_b))
    homes = [home_a, home_b, home_c, *_other_homes(rng, geo, cfg.n_groups - 3, set(new))]
    labels = _assign_groups(cfg, gen)
    arrays = _offender_arrays(cfg, gen)
    gap = max(20, int(cfg.span_days * 0.12))
    opens = tuple((cfg.spread_start_day + k * gap) * DAY for k in range(len(new)))
    return World(
        cfg=cfg,
        geo=geo,
        group_of=labels,
        anchor=_anchors(geo, rng, labels, homes),
        groups=_make_groups(cfg, rng, homes, labels),
        tie=(0, 1, shared),
        spread_group=2,
        spread_areas=tuple(new),
        spread_open=opens,
        hotspots=gen.uniform(2000, cfg.size_m - 2000, (8, 2)),
        **arrays,
    )
