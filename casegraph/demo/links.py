"""Emitting incidents: ids and status, arrests, involvements, victims and witnesses, and the truth rows.

Most incidents stay unsolved: about a quarter of series incidents get a suspect or arrestee, background
incidents rarely (their arrestee becomes a one-off person ``B<incident number>``).
"""

from __future__ import annotations

from casegraph.demo.config import DAY, Clock, sub_rng
from casegraph.demo.events import Contacts, Evidence
from casegraph.demo.incidents import Pending
from casegraph.demo.property import PropertyMaker
from casegraph.demo.records import People
from casegraph.demo.vocab import CHARGE, VICTIM_RATE
from casegraph.demo.world import World
from casegraph.demo.writer import Tables

ROLES = ("arrestee", "suspect", "offender")
ROLE_WEIGHTS = (0.55, 0.3, 0.15)
WITNESS_RATE = 0.12


class Linker:
    """Writes everything an emitted incident implies; tracks the tie and spread facts as observed."""

    def __init__(
        self,
        world: World,
        tables: Tables,
        clock: Clock,
        people: People,
        contacts: Contacts,
        evidence: Evidence,
        openers: frozenset[int] = frozenset(),
        stolen: PropertyMaker | None = None,
    ) -> None:
        self.w, self.tables, self.clock = world, tables, clock
        # Series that open a planted change (a new district, the first joint series of a tie): their first
        # incident is always solved (a witness names the lead or an arrest follows), so the records can
        # show when it began; every other incident follows the solve rate.
        self.unopened = set(openers)
        self.people, self.contacts, self.evidence = people, contacts, evidence
        self.rng = sub_rng(world.cfg.seed, "links")
        self.agency_index = {a: i for i, a in enumerate(world.cfg.agencies)}
        self.next_arrest, self.next_involvement, self.next_bystander = 1, 1, 1
        self.spread_codes = {world.geo.code(a) for a in world.spread_areas}
        self.spread_first: dict[str, str] = {}
        self.tie_dates: list[str] = []
        self.stolen = stolen
        self.arrest: tuple[int, list[tuple[int, str]]] = (
            0,
            [],
        )  # the last incident's arrest time and arrestees

    def emit(self, batch: list[Pending], first_num: int) -> None:
        """Give each incident (in time order) its id and status and write what hangs off it."""
        rows = []
        for k, (t, _, row, who, s) in enumerate(batch):
            num = first_num + k
            row[0] = f"I{num:07d}"
            self.arrest = (0, [])
            opening = s in self.unopened
            self.unopened.discard(s)
            solved = self._offenders(num, t, row, who, opening) if who else self._background(num, t, row)
            self._bystanders(row)
            row[-1] = "solved" if solved else "open"
            self._truth(num, row, who, s)
            if self.stolen is not None:
                self.stolen.incident(num, t, row, who, self.arrest)
            rows.append(row)
        self.tables.write_many("incidents", rows)

    def _truth(self, num: int, row: list[str], who: tuple[int, ...], s: int) -> None:
        iid = row[0]
        if not who:
            self.tables.write("incident_truth", [iid, f"B{num:07d}", ""])
            return
        for o in who:
            self.tables.write("incident_truth", [iid, f"P{o + 1:06d}", f"S{s + 1:07d}"])
        groups = {int(self.w.group_of[o]) for o in who}
        if {self.w.tie[0], self.w.tie[1]} <= groups:
            self.tie_dates.append(row[3][:10])
        if self.w.group_of[who[0]] == self.w.spread_group and row[9] in self.spread_codes:
            day = row[3][:10]
            self.spread_first[row[9]] = min(day, self.spread_first.get(row[9], day))

    def _involve(self, row: list[str], record: str, role: str) -> None:
        self.tables.write("involvements", [f"N{self.next_involvement:08d}", row[1], row[0], record, role])
        self.next_involvement += 1

    def _arrest(self, row: list[str], record: str, at: int, xy: tuple[float, float] | None) -> int:
        num = self.next_arrest
        self.next_arrest += 1
        lat, lon = (row[5], row[6]) if xy is None else (f"{v:.6f}" for v in self.w.geo.latlon(*xy))
        arrest = [f"A{num:07d}", row[1], record, row[0], self.clock.iso(at), CHARGE[row[2]], lat, lon]
        self.tables.write("arrests", arrest)
        return num

    def _offenders(
        self, num: int, t: int, row: list[str], who: tuple[int, ...], opening: bool = False
    ) -> bool:
        """A series incident is detected with the solve rate (always when it opens a new district); then
        its lead and some partners are named."""
        rng = self.rng
        if rng.random() >= self.w.cfg.series_solve_rate and not opening:
            return False
        named = [who[0]] + [o for o in who[1:] if rng.random() < 0.6 or opening]
        roles = rng.choices(ROLES, ROLE_WEIGHTS, k=len(named))
        groups = [int(self.w.group_of[o]) for o in named]
        arrest_groups = [g for g, r in zip(groups, roles, strict=True) if r == "arrestee"]
        at = t + (rng.randrange(600, 6 * 3600) if rng.random() < 0.3 else rng.randrange(DAY, 90 * DAY))
        arrested: list[tuple[int, str]] = []
        latest = self.clock.seconds(row[4])  # claims date an incident by the end of its window
        for o, g, role in zip(named, groups, roles, strict=True):
            record = self.w.record_of(rng, o, self.agency_index[row[1]])[0]
            self._involve(row, record, role)
            self.evidence.note_incident(o, num, latest, g >= 0 and groups.count(g) >= 2)
            if role == "arrestee":
                xy = None if at - t < DAY else (float(self.w.anchor[o][0]), float(self.w.anchor[o][1]))
                together = g >= 0 and arrest_groups.count(g) >= 2
                self.evidence.note_arrest(o, self._arrest(row, record, at, xy), at, together)
                arrested.append((o, record))
        self.arrest = (at, arrested)
        if len(arrested) >= 2:
            xy_c = (float(row[7]), float(row[8])) if at - t < DAY else None
            self.contacts.add(
                "co_arrest", at, xy_c, f"Arrested together for incident {row[0]}", row[1], arrested
            )
        return bool(arrested)

    def _background(self, num: int, t: int, row: list[str]) -> bool:
        if self.rng.random() >= self.w.cfg.background_solve_rate:
            return False
        record = self.people.bystander("B", num, row[1])
        self._involve(row, record, "arrestee")
        self._arrest(row, record, t + self.rng.randrange(600, 30 * DAY), None)
        return True

    def _bystanders(self, row: list[str]) -> None:
        """Victims and witnesses: new people, usually one record each, never offenders."""
        for role, rate in (("victim", VICTIM_RATE[row[2]]), ("witness", WITNESS_RATE)):
            if self.rng.random() < rate:
                record = self.people.bystander("V", self.next_bystander, row[1])
                self.next_bystander += 1
                self._involve(row, record, role)
