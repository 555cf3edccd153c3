"""Incident rows: series incidents drawn from a planned series, background incidents drawn per day.

Each row is built complete except its id and status, which are set when it is emitted in time order.
"""

from __future__ import annotations

import random
from itertools import accumulate

from casegraph.demo.config import DAY, Clock, sub_rng
from casegraph.demo.series import SeriesPlan
from casegraph.demo.vocab import (
    BODIES,
    BUILDS,
    CLOTHING,
    COLOURS,
    DEFAULT_HOUR,
    MO,
    OFFENCES,
    PHRASES,
    TEMPLATES,
    VEHICLE_USE,
    WITNESSED,
)
from casegraph.demo.world import Habits, World

# (true time s, unique tie-break, row, offenders, series index or -1); sorted on the first two.
Pending = tuple[int, int, list[str], tuple[int, ...], int]
BACKGROUND_CUM = tuple(accumulate((0.13, 0.2, 0.35, 0.12, 0.2)))  # offence mix of one-off crime
ROBBERY_WEAPON_CUM = tuple(accumulate((0.35, 0.25, 0.2, 0.1, 0.1)))
NO_SUSPECT = ["", "", "", "", "", ""]


def _phrase(code: str) -> str:
    return PHRASES.get(code, code.replace("_", " "))


def narrative(rng: random.Random, offence: str, mo: list[str], count: str) -> str:
    """A short sentence mixing the MO words, as an officer might write it."""
    premises, entry, target, other, weapon, prop, vehicle = mo
    who = {"1": "a lone offender", "2": "two offenders", "3": "three offenders"}.get(count, "the offender(s)")
    text = rng.choice(TEMPLATES[offence]).format(
        who=who,
        entry=_phrase(entry) or "approached",
        target=target.replace("_", " "),
        premises=premises,
        other=_phrase(other),
        weapon=_phrase(weapon) or "no weapon seen",
        prop=prop.replace(";", ", ").replace("_", " ") or "nothing",
        veh=f" Seen leaving in a {vehicle}." if vehicle else "",
    )
    return text[0].upper() + text[1:]


def window(rng: random.Random, offence: str, t: int, span_s: int) -> tuple[int, int]:
    """Occurrence window around the true time: exact for robbery, hours to days for unwitnessed crime."""
    if offence == "robbery":
        width = 0
    elif offence == "theft":
        width = 0 if rng.random() < 0.5 else rng.randrange(600, 7200)
    elif offence == "burglary":
        width = int(min(72.0, rng.lognormvariate(2.0, 0.9)) * 3600)
    else:
        width = int(rng.uniform(1.0, 14.0) * 3600)
    t_from = max(0, t - int(rng.random() * width))
    return t_from, max(t, min(t_from + width, span_s - 1))


def _weapon(rng: random.Random, offence: str) -> str:
    if offence == "robbery":
        return rng.choices(MO["robbery"]["weapon"], cum_weights=ROBBERY_WEAPON_CUM)[0]
    return "blunt" if offence == "burglary" and rng.random() < 0.05 else "none"


def _property(rng: random.Random, habits: Habits | None, offence: str, c: float) -> str:
    items = MO[offence]["property"]
    if habits is not None and rng.random() < c:
        taken = list(habits.props[offence])
        if rng.random() < 0.3:
            taken.append(rng.choice(items))
    else:
        taken = [rng.choice(items) for _ in range(rng.randint(1, 3))]  # repeats collapse below
    return ";".join(dict.fromkeys(taken))


def mo_fields(rng: random.Random, habits: Habits | None, offence: str) -> list[str]:
    """premises, entry, target, other, weapon, property, vehicle: habitual with prob. consistency."""
    vocab, c = MO[offence], habits.consistency if habits is not None else 0.0
    pref = habits.prefs[offence] if habits is not None else {}
    out = [
        pref[f] if pref and rng.random() < c else rng.choice(vocab[f])
        for f in ("premises", "entry", "target")
    ]
    out.append(pref["other"] if pref and rng.random() < c else rng.choice(vocab["other"]))
    out.append(
        pref["weapon"] if pref and offence == "robbery" and rng.random() < c else _weapon(rng, offence)
    )
    out.append(_property(rng, habits, offence, c))
    vehicle = ""
    if rng.random() < VEHICLE_USE[offence]:
        if habits is not None and rng.random() < c:
            vehicle = habits.vehicle
        else:
            vehicle = f"{rng.choice(COLOURS)} {rng.choice(BODIES)}"
    out.append(vehicle)
    return out


class IncidentMaker:
    """Turns planned series and per-day background counts into incident rows."""

    def __init__(self, world: World, plan: SeriesPlan, clock: Clock) -> None:
        self.w, self.plan, self.clock, self.geo = world, plan, clock, world.geo
        self.seed = world.cfg.seed
        self.span_s = world.cfg.span_days * DAY
        self.agencies = world.cfg.agencies

    def series_rows(self, s: int) -> list[Pending]:
        rng = sub_rng(self.seed, "series", s)
        who = tuple(int(o) for o in self.plan.who[s] if o >= 0)
        habits = self.w.habits_of(who[0])
        allowed, ax, ay = self._ground(rng, s, who[0])
        main = habits.offence(rng)
        out = []
        for k, t in enumerate(self._times(rng, s, habits, main)):
            offence = main if rng.random() < 0.9 else habits.offence(rng)
            out.append((t, s * 32 + k, self._row(rng, habits, offence, t, (ax, ay), allowed, who), who, s))
        return out

    def _ground(self, rng: random.Random, s: int, lead: int) -> tuple[frozenset[int] | None, float, float]:
        """Where a series may happen: a forced district, the group's home, or anywhere for solos."""
        forced, g = int(self.plan.district[s]), int(self.w.group_of[lead])
        if forced >= 0:
            return frozenset((forced,)), *self.geo.point_in(rng, forced, margin=600.0)
        ax, ay = (float(v) for v in self.w.anchor[lead])
        return (frozenset(self.w.groups[g].home) if g >= 0 else None), ax, ay

    def _times(self, rng: random.Random, s: int, habits: Habits, offence: str) -> list[int]:
        """Days in the burst weighted by preferred weekdays; hours around the habitual hour."""
        start, end = int(self.plan.start[s]), int(self.plan.start[s] + self.plan.dur[s])
        days = range(start // DAY, end // DAY + 1)
        weights = [habits.dow[self.clock.weekday(d * DAY)] for d in days]
        times = []
        for d in sorted(rng.choices(days, weights=weights, k=int(self.plan.size[s]))):
            hour = rng.gauss(habits.hour[offence], habits.hour_sd) % 24
            times.append(min(end, max(start, d * DAY + int(hour * 3600))))
        return times

    def background_rows(self, d: int, count: int) -> list[Pending]:
        """Day ``d``'s one-off crimes by unknown offenders: random MO, around hotspots or anywhere."""
        rng = sub_rng(self.seed, "background", d)
        out: list[Pending] = []
        for k in range(count):
            offence = rng.choices(OFFENCES, cum_weights=BACKGROUND_CUM)[0]
            t = d * DAY + int((rng.gauss(DEFAULT_HOUR[offence], 4.0) % 24) * 3600)
            row = self._row(rng, None, offence, t, self._bg_anchor(rng), None, ())
            out.append((t, -(d * 10_000_000 + k + 1), row, (), -1))
        return out

    def _bg_anchor(self, rng: random.Random) -> tuple[float, float]:
        if rng.random() < 0.4:
            hx, hy = self.w.hotspots[rng.randrange(len(self.w.hotspots))]
            return self.geo.clip(rng.gauss(float(hx), 600.0), rng.gauss(float(hy), 600.0))
        return rng.uniform(0.0, self.geo.size), rng.uniform(0.0, self.geo.size)

    def _suspects(
        self, rng: random.Random, habits: Habits | None, offence: str, who: tuple[int, ...], t: int
    ) -> list[str]:
        """What a witness reported (often nothing): count, age range, height, build, clothing."""
        if rng.random() >= WITNESSED[offence]:
            return NO_SUSPECT
        if who:
            lead = who[0]
            age = (self.clock.ordinal(t) - int(self.w.dob[lead])) / 365.25
            height, build, count = int(self.w.height[lead]), BUILDS[int(self.w.build[lead])], len(who)
        else:
            age, height = rng.uniform(16, 45), int(rng.gauss(174, 8))
            build, count = rng.choice(BUILDS), rng.choices((1, 2, 3), (0.7, 0.2, 0.1))[0]
        if rng.random() < 0.15:
            count = max(1, count + rng.choice((-1, 1)))
        seen_h = str(int(round((height + rng.gauss(0, 6)) / 5) * 5)) if rng.random() < 0.7 else ""
        clothing = habits.clothing if habits is not None and rng.random() < 0.7 else rng.choice(CLOTHING)
        return [
            str(count),
            str(max(12, int(age) - rng.randint(2, 6))),
            str(int(age) + rng.randint(2, 6)),
            seen_h,
            build if rng.random() < 0.8 else rng.choice(BUILDS),
            clothing if rng.random() < 0.8 else "",
        ]

    def _agency(self, rng: random.Random, premises: str, district: int) -> str:
        if premises == "transit":
            return self.agencies[2]
        if self.geo.is_outer(district) and rng.random() < 0.35:
            return self.agencies[1]
        return self.agencies[0]

    def _row(
        self,
        rng: random.Random,
        habits: Habits | None,
        offence: str,
        t: int,
        anchor: tuple[float, float],
        allowed: frozenset[int] | None,
        who: tuple[int, ...],
    ) -> list[str]:
        x, y = self.geo.place(rng, anchor[0], anchor[1], allowed)
        mo = mo_fields(rng, habits, offence)
        t_from, t_to = window(rng, offence, t, self.span_s)
        suspects = self._suspects(rng, habits, offence, who, t)
        lat, lon = self.geo.latlon(x, y)
        district = self.geo.district(x, y)
        head = ["", self._agency(rng, mo[0], district), offence, self.clock.iso(t_from), self.clock.iso(t_to)]
        where = [f"{lat:.6f}", f"{lon:.6f}", f"{x:.1f}", f"{y:.1f}", self.geo.code(district)]
        return [*head, *where, *mo, narrative(rng, offence, mo, suspects[0]), *suspects, ""]
