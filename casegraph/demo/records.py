"""Person records: one true identity per person, written as 1-5 agency records with realistic variants.

Variants are what entity resolution must see through: nicknames, typos, day/month swaps and year digit
errors in dates of birth, aliases, moved addresses, swapped name order and missing phone or id numbers.
"""

from __future__ import annotations

import random
import string
from dataclasses import dataclass
from datetime import date

import numpy as np

from casegraph.demo.config import sub_rng
from casegraph.demo.vocab import (
    DIRECTIONS,
    FAMILY_NAMES,
    FEMALE_NAMES,
    MALE_NAMES,
    NICKNAMES,
    STREET_ALIASES,
    STREET_TYPES,
    STREETS,
)
from casegraph.demo.world import World
from casegraph.demo.writer import Tables

AGENCY_WEIGHTS = (0.55, 0.28, 0.17)
KEPT_IDENTITIES = 20_000  # offenders whose identity is kept (they sell stolen items under their own names)


@dataclass
class Identity:
    person_id: str
    male: bool
    given: str
    middle: str
    family: str
    alias: str
    dob: date
    address: tuple[int, int, str, int]  # number, direction index, street, street type index
    postcode: str
    phone: str
    id_number: str


def _digits(rng: random.Random, k: int) -> str:
    return f"{rng.randrange(10**k):0{k}d}"


def new_identity(rng: random.Random, person_id: str, male: bool, dob: date, offender: bool) -> Identity:
    names = MALE_NAMES if male else FEMALE_NAMES
    return Identity(
        person_id=person_id,
        male=male,
        given=rng.choice(names),
        middle=rng.choice(names) if rng.random() < 0.7 else "",
        family=rng.choice(FAMILY_NAMES),
        alias=rng.choice(STREET_ALIASES) if offender and rng.random() < 0.45 else "",
        dob=dob,
        address=_address(rng),
        postcode=f"606{rng.randrange(1, 61):02d}",
        phone=f"{rng.choice(('312', '773', '872'))}{_digits(rng, 7)}",
        id_number=f"{rng.choice(string.ascii_uppercase)}{_digits(rng, 11)}",
    )


def _address(rng: random.Random) -> tuple[int, int, str, int]:
    return rng.randrange(100, 9999), rng.randrange(4), rng.choice(STREETS), rng.randrange(4)


def typo(rng: random.Random, s: str) -> str:
    """One substitution, transposition or deletion: the commonest keying errors."""
    if len(s) < 3:
        return s
    i = rng.randrange(1, len(s) - 1)
    kind = rng.randrange(3)
    if kind == 0:
        return s[:i] + rng.choice(string.ascii_lowercase) + s[i + 1 :]
    if kind == 1:
        return s[: i - 1] + s[i] + s[i - 1] + s[i + 1 :]
    return s[:i] + s[i + 1 :]


def _given(rng: random.Random, ident: Identity, clean: bool) -> str:
    given = ident.given
    short = NICKNAMES.get(given)
    if short and rng.random() < (0.15 if clean else 0.4):
        given = rng.choice(short)
    if not clean and rng.random() < 0.12:
        given = typo(rng, given)
    return given


def _dob(rng: random.Random, dob: date, clean: bool) -> str:
    r = 1.0 if clean else rng.random()
    try:
        if r < 0.06 and dob.day <= 12 and dob.day != dob.month:
            return dob.replace(month=dob.day, day=dob.month).isoformat()  # day/month transposed
        if r < 0.11:
            return dob.replace(year=dob.year + rng.choice((-10, -1, 1, 10))).isoformat()  # year digit error
    except ValueError:  # 29 February in a non-leap year: keep the true date
        return dob.isoformat()
    return "" if r < 0.15 else dob.isoformat()


def _address_text(rng: random.Random, addr: tuple[int, int, str, int]) -> str:
    num, d, street, t = addr
    long_form = rng.random() < 0.3
    return f"{num} {DIRECTIONS[d][long_form]} {street} {STREET_TYPES[t][long_form]}"


def _phone_text(rng: random.Random, phone: str) -> str:
    style = rng.randrange(3)
    if style == 0:
        return phone
    if style == 1:
        return f"({phone[:3]}) {phone[3:6]}-{phone[6:]}"
    return f"{phone[:3]}-{phone[3:6]}-{phone[6:]}"


def variant(rng: random.Random, ident: Identity, clean: bool) -> list[str]:
    """The fields from given_name to id_number as one agency recorded them."""
    given, family = _given(rng, ident, clean), ident.family
    if not clean and rng.random() < 0.1:
        family = typo(rng, family)
    middle = ident.middle if rng.random() < 0.5 else ident.middle[:1]
    if not clean and rng.random() < 0.03:
        given, family = family, given  # recorded in the wrong order
    moved = not clean and rng.random() < 0.25
    addr = _address(rng) if moved else ident.address
    postcode = f"606{rng.randrange(1, 61):02d}" if moved else ident.postcode
    phone = _phone_text(rng, ident.phone) if rng.random() < 0.5 else ""
    id_number = ident.id_number if rng.random() < 0.4 else ""
    if id_number and not clean and rng.random() < 0.05:
        id_number = id_number[:-1] + rng.choice(string.digits)
    alias = ident.alias if rng.random() < 0.6 else ""
    return [
        given,
        middle,
        family,
        alias,
        _dob(rng, ident.dob, clean),
        "male" if ident.male else "female",
        _address_text(rng, addr) if rng.random() < 0.92 else "",
        postcode,
        phone,
        id_number,
    ]


class People:
    """Writes person records and their truth; record ids share one number space over all agencies."""

    def __init__(self, tables: Tables, agencies: tuple[str, ...], seed: int, start: date) -> None:
        self.tables = tables
        self.agencies = agencies
        self.rng = sub_rng(seed, "people")
        self.start = start.toordinal()
        self.next_record = 1
        self.identities: dict[int, Identity] = {}  # offender -> identity, for the first KEPT_IDENTITIES

    def write(self, ident: Identity, agencies: list[str]) -> list[str]:
        """One record per agency entry (repeats allowed: agencies do hold duplicates). Returns the ids."""
        ids = []
        for k, agency in enumerate(agencies):
            rid = f"R{self.next_record:07d}"
            self.next_record += 1
            self.tables.write("person_records", [rid, agency, *variant(self.rng, ident, clean=k == 0)])
            self.tables.write("person_truth", [rid, ident.person_id])
            ids.append(rid)
        return ids

    def bystander(self, prefix: str, number: int, agency: str) -> str:
        """A victim, witness or one-off arrestee: mostly one record, sometimes a second elsewhere."""
        rng = self.rng
        male = rng.random() < 0.5
        age = rng.randrange(16, 80) if prefix == "V" else rng.randrange(16, 45)
        dob = date.fromordinal(self.start - age * 365 - rng.randrange(365))
        ident = new_identity(rng, f"{prefix}{number:07d}", male, dob, offender=prefix == "B")
        agencies = [agency] if rng.random() < 0.88 else [agency, rng.choice(self.agencies)]
        return self.write(ident, agencies)[0]

    def write_offenders(self, world: World) -> None:
        """All offenders' records up front; only their id ranges and agencies are kept in memory."""
        assert self.next_record == 1, "offender records come first so record number - 1 indexes rec_agency"
        n = len(world.group_of)
        gen = np.random.default_rng([world.cfg.seed, 2])
        counts = gen.choice([1, 2, 3, 4, 5], size=n, p=[0.12, 0.3, 0.3, 0.17, 0.11]).astype(np.int8)
        world.rec_count = counts
        world.rec_start = self.next_record + np.concatenate(([0], np.cumsum(counts[:-1], dtype=np.int64)))
        world.rec_agency = gen.choice(3, size=int(counts.sum()), p=AGENCY_WEIGHTS).astype(np.int8)
        for o in range(n):
            dob = date.fromordinal(int(world.dob[o]))
            ident = new_identity(self.rng, f"P{o + 1:06d}", bool(world.male[o]), dob, offender=True)
            first = int(world.rec_start[o]) - 1
            codes = world.rec_agency[first : first + int(counts[o])].tolist()
            self.write(ident, [self.agencies[c] for c in codes])
            g = int(world.group_of[o])
            if g >= 0:
                self.tables.write("group_truth", [ident.person_id, world.groups[g].group_id])
            if o < KEPT_IDENTITIES:
                self.identities[o] = ident
