"""Contacts (meetings, calls, co-arrests) and the per-offender evidence that membership claims cite.

Contacts are mostly among members of one group. The planted G01-G02 tie adds contacts between those two
groups only after its onset; other group pairs meet only by rare chance, far fewer times than the tie.
"""

from __future__ import annotations

import bisect
import random

import numpy as np

from casegraph.demo.config import DAY, Clock, sub_rng
from casegraph.demo.world import World
from casegraph.demo.writer import Tables

GROUP_RATE = 0.004  # contacts per group member per day
SOLO_RATE = 0.001  # chance contacts per solo offender per day
CROSS_RATE = 0.002  # share of group contacts that include a member of another (non-tied) group
TIE_SHARE = 0.015  # planted tie contacts, as a share of all group contacts (at least 10)
PLACES = ("gas station", "corner store", "park", "car wash", "apartment block", "fast-food restaurant")
MEETING = (
    "Subjects seen meeting outside a {p}",
    "Surveillance: meeting at a {p}",
    "Field contact near a {p}",
)
CALL = ("Call between subjects (phone records)", "Call arranging a meet", "Text messages on a seized handset")


class Evidence:
    """Latest incident, arrest and group contact an agency knows per offender: what claims cite."""

    def __init__(self, n: int) -> None:
        self.incident, self.incident_t = np.zeros(n, np.int64), np.zeros(n, np.int64)
        self.arrest, self.arrest_t = np.zeros(n, np.int64), np.zeros(n, np.int64)
        self.contact, self.contact_t = np.zeros(n, np.int64), np.zeros(n, np.int64)
        self.joint = np.zeros(n, bool)
        self.co_arrest = np.zeros(n, bool)

    def note_incident(self, o: int, num: int, t: int, joint: bool) -> None:
        # A later solo incident never replaces a joint one: the joint one backs a stronger criterion.
        if joint or not self.joint[o]:
            self.incident[o], self.incident_t[o] = num, t
            self.joint[o] |= joint

    def note_arrest(self, o: int, num: int, t: int, together: bool) -> None:
        if together or not self.co_arrest[o]:
            self.arrest[o], self.arrest_t[o] = num, t
            self.co_arrest[o] |= together

    def note_contact(self, o: int, num: int, t: int) -> None:
        self.contact[o], self.contact_t[o] = num, t


class Contacts:
    """Writes contacts and participants; generates each day's meetings and calls."""

    def __init__(self, world: World, tables: Tables, clock: Clock, evidence: Evidence) -> None:
        self.w, self.tables, self.clock, self.evidence = world, tables, clock, evidence
        self.next_contact, self.next_participant = 1, 1
        self.members = [g.members.tolist() for g in world.groups]
        self.solos = np.flatnonzero(world.group_of < 0).tolist()
        self.tie_times = self._plan_tie()

    def _plan_tie(self) -> list[int]:
        cfg = self.w.cfg
        rng = sub_rng(cfg.seed, "tie_contacts")
        expected = sum(len(m) for m in self.members) * GROUP_RATE * cfg.span_days
        lo, hi = self.w.tie_onset() + DAY, cfg.span_days * DAY - DAY
        return sorted(rng.randrange(lo, hi) for _ in range(max(10, int(TIE_SHARE * expected))))

    def add(
        self,
        kind: str,
        t: int,
        xy: tuple[float, float] | None,
        text: str,
        agency: str,
        people: list[tuple[int, str]],
    ) -> int:
        """Write one contact; participants sharing a group get it as evidence of communication."""
        num = self.next_contact
        self.next_contact += 1
        cid, geo = f"C{num:07d}", self.w.geo
        loc = ["", "", ""]
        if xy is not None:
            lat, lon = geo.latlon(*xy)
            loc = [f"{lat:.6f}", f"{lon:.6f}", geo.code(geo.district(*xy))]
        self.tables.write("contacts", [cid, agency, kind, self.clock.iso(t), *loc, text])
        groups = [int(self.w.group_of[o]) for o, _ in people]
        for (o, rec), g in zip(people, groups, strict=True):
            self.tables.write("contact_participants", [f"CP{self.next_participant:08d}", agency, cid, rec])
            self.next_participant += 1
            if g >= 0 and groups.count(g) >= 2:
                self.evidence.note_contact(o, num, t)
        return num

    def day(self, d: int) -> None:
        """All contacts of day ``d``: group contacts, the tie's, and chance ones."""
        rng, gen = sub_rng(self.w.cfg.seed, "contacts", d), np.random.default_rng([self.w.cfg.seed, 4, d])
        t0, t1 = d * DAY, (d + 1) * DAY
        for g, members in enumerate(self.members):
            for _ in range(int(gen.poisson(len(members) * GROUP_RATE))):
                self._group_contact(rng, g, rng.randrange(t0, t1))
        lo, hi = bisect.bisect_left(self.tie_times, t0), bisect.bisect_left(self.tie_times, t1)
        for t in self.tie_times[lo:hi]:
            self._tie_contact(rng, t)
        for _ in range(int(gen.poisson(len(self.solos) * SOLO_RATE))):
            self._chance_contact(rng, rng.randrange(t0, t1))

    def _write(self, rng: random.Random, t: int, xy: tuple[float, float] | None, people: list[int]) -> None:
        agencies = self.w.cfg.agencies
        idx = 0 if rng.random() < 0.75 else 1
        records = [(o, self.w.record_of(rng, o, idx)[0]) for o in people]
        if xy is None:
            self.add("call", t, None, rng.choice(CALL), agencies[idx], records)
        else:
            self.add(
                "meeting", t, xy, rng.choice(MEETING).format(p=rng.choice(PLACES)), agencies[idx], records
            )

    def _group_contact(self, rng: random.Random, g: int, t: int) -> None:
        members = self.members[g]
        if len(members) < 2:
            return
        meeting = rng.random() < 0.5
        people = rng.sample(members, min(len(members), rng.choice((2, 2, 3, 4)) if meeting else 2))
        if rng.random() < CROSS_RATE:
            tie = {self.w.tie[0], self.w.tie[1]}
            others = [h for h in range(len(self.members)) if h != g and {g, h} != tie]
            people[-1] = rng.choice(self.members[rng.choice(others)])
        xy = self.w.geo.point_in(rng, rng.choice(sorted(self.w.territory(g, t)))) if meeting else None
        self._write(rng, t, xy, people)

    def _tie_contact(self, rng: random.Random, t: int) -> None:
        a, b, shared = self.w.tie
        people = rng.sample(self.members[a], rng.choice((1, 2))) + rng.sample(
            self.members[b], rng.choice((1, 1, 2))
        )
        xy = self.w.geo.point_in(rng, shared) if rng.random() < 0.6 else None
        self._write(rng, t, xy, people)

    def _chance_contact(self, rng: random.Random, t: int) -> None:
        first, second = rng.choice(self.solos), rng.randrange(len(self.w.group_of))
        if first != second:
            xy = (
                (rng.uniform(0, self.w.geo.size), rng.uniform(0, self.w.geo.size))
                if rng.random() < 0.4
                else None
            )
            self._write(rng, t, xy, [first, second])
