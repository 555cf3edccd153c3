"""Groups as agencies record them and membership claims with criteria and the evidence behind them.

A claim is written only for a member an agency holds evidence on (an involvement, arrest or group
contact); every claim meets at least two criteria and cites real incident, arrest and contact ids.
"""

from __future__ import annotations

import random
from datetime import date

from casegraph.demo.config import DAY, Clock, sub_rng
from casegraph.demo.events import Evidence
from casegraph.demo.vocab import OFFENCES, SOFT_CRITERIA, USERS
from casegraph.demo.world import World
from casegraph.demo.writer import Tables

SECOND_CLAIM = 0.1  # members a second agency also files a claim on


def plus_years(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


def write_groups(world: World, tables: Tables) -> None:
    for g in world.groups:
        areas = ", ".join(world.geo.code(d) for d in g.home)
        top = sorted(range(len(OFFENCES)), key=lambda i: -g.habits.offence_p[i])[:2]
        crimes = " and ".join(OFFENCES[i].replace("_", " ") for i in top)
        text = f"{g.kind.capitalize()} active around {areas}; known for {crimes}."
        tables.write("groups", [g.group_id, g.agency, g.name, g.kind, text])


def criteria_and_evidence(rng: random.Random, ev: Evidence, o: int) -> tuple[list[str], list[str], int]:
    """Criteria the evidence supports, topped up with softer ones to at least two; latest evidence time."""
    criteria, cited, times = [], [], []
    if ev.incident[o]:
        criteria.append("joint_offending_with_members" if ev.joint[o] else "frequents_group_area")
        cited.append(f"incident:I{int(ev.incident[o]):07d}")
        times.append(int(ev.incident_t[o]))
    if ev.arrest[o]:
        criteria.append("arrested_with_members" if ev.co_arrest[o] else "corroborated_by_other_source")
        cited.append(f"arrest:A{int(ev.arrest[o]):07d}")
        times.append(int(ev.arrest_t[o]))
    if ev.contact[o]:
        criteria.append("communication_with_members")
        cited.append(f"contact:C{int(ev.contact[o]):07d}")
        times.append(int(ev.contact_t[o]))
    soft = [c for c in SOFT_CRITERIA if c not in criteria]
    criteria += rng.sample(soft, max(2 - len(criteria), rng.randrange(2)))
    return criteria, cited, max(times)


class ClaimWriter:
    def __init__(self, world: World, tables: Tables, clock: Clock, evidence: Evidence) -> None:
        self.w, self.tables, self.clock, self.ev = world, tables, clock, evidence
        self.rng = sub_rng(world.cfg.seed, "claims")
        self.next_claim = 1

    def write_all(self, watched: frozenset[int] = frozenset()) -> None:
        """About ``claim_share`` of members get a claim (those with evidence); some get a second one.
        ``watched`` members (the crews that open a group's new districts) are claimed whenever there is
        evidence on them: a group moving into new ground is what agencies file on first."""
        members = [o for g in self.w.groups for o in g.members.tolist()]
        known = [o for o in members if self.ev.incident[o] or self.ev.arrest[o] or self.ev.contact[o]]
        p = min(1.0, self.w.cfg.claim_share * len(members) / max(1, len(known)))
        for o in known:
            if o in watched or self.rng.random() < p:
                self._claim(o, None)
                if self.rng.random() < SECOND_CLAIM:
                    self._claim(o, self.rng.randrange(3))

    def _claim(self, o: int, agency: int | None) -> None:
        rng = self.rng
        record, owner = self.w.record_of(rng, o, agency)
        criteria, cited, latest = criteria_and_evidence(rng, self.ev, o)
        entered = latest + rng.randrange(DAY, 45 * DAY)
        prefix, analysts, supervisor = USERS[owner]
        minor = self.clock.ordinal(entered) - int(self.w.dob[o]) < 18 * 365.25
        review = plus_years(date.fromisoformat(self.clock.day(latest)), 5).isoformat()
        self.tables.write(
            "membership_claims",
            [
                f"MC{self.next_claim:06d}",
                self.w.cfg.agencies[owner],
                record,
                self.w.groups[int(self.w.group_of[o])].group_id,
                ";".join(criteria),
                ";".join(cited),
                f"{prefix}.{rng.choice(analysts)}",
                self.clock.iso(entered),
                review,
                f"{prefix}.{supervisor}" if minor else "",
            ],
        )
        self.next_claim += 1
