"""Stolen property in the synthetic city: phones, laptops and other serial-numbered items, and where they turn up.

Items come from the property an incident already lists (phone, laptop, electronics, bicycle, tools, sat nav,
watch), so the incidents
themselves are unchanged. A crew's lead pawns some items at a local shop; one planted fence, a member of
one group, buys from the crews of several groups and resells at the local shops until a planted day
(resale_start_frac of the span), then at dealers in another city (the onset the group_item_city alert is
measured against); an arrestee
sometimes still holds an item from an earlier incident; a few one-off thieves pawn what they took. Some
identifiers are mistyped where they are sold (one character off or two swapped). Everything draws from its
own random stream, so adding property changes no other record of the city.
"""

from __future__ import annotations

import random
from collections import deque
from dataclasses import dataclass, field
from datetime import date

from casegraph.demo.config import DAY, Clock, sub_rng
from casegraph.demo.records import Identity, new_identity, variant
from casegraph.demo.vocab import FAMILY_NAMES
from casegraph.demo.world import World
from casegraph.demo.writer import Tables
from casegraph.schema.identifiers import imei_check_digit

# property_taken code -> (item kind, share with an identifier the victim can give, makes and models)
ITEMS: dict[str, tuple[str, float, tuple[tuple[str, str], ...]]] = {
    "phone": ("phone", 0.8, (("Apple", "iPhone 13"), ("Samsung", "Galaxy S22"), ("Google", "Pixel 7"))),
    "laptop": ("laptop", 0.7, (("Dell", "XPS 13"), ("Lenovo", "ThinkPad T14"), ("Apple", "MacBook Air"))),
    "electronics": ("tablet", 0.5, (("Apple", "iPad"), ("Samsung", "Galaxy Tab"))),
    "bicycle": ("bicycle", 0.5, (("Trek", "FX 2"), ("Giant", "Escape 3"), ("Specialized", "Sirrus"))),
    "tools": (
        "tool",
        0.4,
        (("DeWalt", "DCD791 drill"), ("Makita", "XFD131 drill"), ("Milwaukee", "M18 saw")),
    ),
    "sat_nav": ("other", 0.5, (("Garmin", "DriveSmart 55"), ("TomTom", "GO 520"))),
    "watch": ("jewellery", 0.3, (("Omega", "Seamaster"), ("Tag Heuer", "Carrera"), ("Seiko", "Presage"))),
}
# IMEI reporting-body prefixes (type allocation codes) of the makes above.
TAC = {"Apple": "35391110", "Samsung": "35260011", "Google": "35846711"}
PAWN_RATE = 0.6  # a crew lead's identified item is pawned locally
FENCE_RATE = 0.5  # ... or, for the crews the fence buys from, sold to the fence
FOUND_AT_ARREST = 0.5  # an arrestee still holds an item from an earlier incident
BACKGROUND_PAWN = 0.05
TYPO_RATE = 0.08
FENCE_BUYS_FROM = 3  # groups (the fence's own and two others)
HELD = 3  # items an offender is remembered to hold, for arrests


@dataclass
class Fence:
    offender: int
    group: int
    buys_from: frozenset[int]
    dealers: list[tuple[str, str, float, float]]  # name, licence, lat, lon in the resale city


@dataclass
class Item:
    item_id: str
    agency: str
    incident_id: str
    kind: str
    make: str
    model: str
    imei: str
    serial: str
    thief: str
    sellers: list[str] = field(default_factory=list)


class PropertyMaker:
    """Writes property_items, property_events, the pawn export and their truth, incident by incident."""

    def __init__(self, world: World, tables: Tables, clock: Clock, identities: dict[int, Identity]) -> None:
        self.w, self.tables, self.clock, self.identities = world, tables, clock, identities
        self.rng = sub_rng(world.cfg.seed, "property")
        self.start = world.cfg.start_date.toordinal()
        self.shops = [self._shop(k) for k in range(6)]
        self.fence = self._plant_fence()
        self.held: dict[int, deque[Item]] = {}
        self.resold: dict[int, list[int]] = {}  # group -> times its items were sold in the resale city
        self.next_item, self.next_event, self.next_sale = 1, 1, 1

    def _shop(self, k: int) -> tuple[str, str, float, float, str]:
        d = self.rng.randrange(self.w.geo.n**2)
        lat, lon = self.w.geo.latlon(*self.w.geo.point_in(self.rng, d))
        return (
            f"{FAMILY_NAMES[k * 7 % len(FAMILY_NAMES)]} Pawn",
            f"PL-{k + 1:03d}",
            lat,
            lon,
            self.w.geo.code(d),
        )

    def _plant_fence(self) -> Fence:
        """A member of one group (one whose identity is kept) who buys from that group and two others."""
        groups = [g for g in self.w.groups if any(int(o) in self.identities for o in g.members)]
        assert len(groups) >= FENCE_BUYS_FROM, "the fence buys from several groups with known members"
        home = self.rng.choice(groups)
        offender = self.rng.choice([int(o) for o in home.members if int(o) in self.identities])
        others = self.rng.sample([g.index for g in groups if g.index != home.index], FENCE_BUYS_FROM - 1)
        cfg = self.w.cfg
        dealers = [
            (
                f"{self.rng.choice(FAMILY_NAMES)} Electronics Exchange",
                f"DL-{k + 1:03d}",
                cfg.resale_lat + self.rng.uniform(-0.03, 0.03),
                cfg.resale_lon + self.rng.uniform(-0.03, 0.03),
            )
            for k in range(3)
        ]
        return Fence(offender, home.index, frozenset([home.index, *others]), dealers)

    def incident(
        self,
        num: int,
        t: int,
        row: list[str],
        who: tuple[int, ...],
        arrest: tuple[int, list[tuple[int, str]]],
    ) -> None:
        """Items of one emitted incident and their fate; what its arrestees still hold from before."""
        at, arrested = arrest
        for o, _ in arrested:
            self._found_on(o, row, at)
        thief = f"P{who[0] + 1:06d}" if who else f"B{num:07d}"
        for code in row[15].split(";"):
            if code in ITEMS:
                item = self._item(row, code, thief)
                if item is not None:
                    self._fate(item, t, who, row[-1] == "solved")

    def _item(self, row: list[str], code: str, thief: str) -> Item | None:
        kind, share, makes = ITEMS[code]
        if self.rng.random() >= share:
            return None
        make, model = self.rng.choice(makes)
        imei = self._imei(make) if kind == "phone" else ""
        serial = "" if imei else self._serial(make)
        item = Item(f"X{self.next_item:07d}", row[1], row[0], kind, make, model, imei, serial, thief)
        self.next_item += 1
        self.tables.write(
            "property_items",
            [
                item.item_id,
                item.agency,
                item.incident_id,
                kind,
                make,
                model,
                imei,
                serial,
                f"{kind} ({make})",
            ],
        )
        return item

    def _imei(self, make: str) -> str:
        body = TAC[make] + f"{self.rng.randrange(10**6):06d}"
        return body + imei_check_digit(body)

    def _serial(self, make: str) -> str:
        letters = "ABCDEFGHJKLMNPQRSTUVWXYZ"
        return make[:2].upper() + "".join(self.rng.choice(letters + "0123456789") for _ in range(8))

    def _fate(self, item: Item, t: int, who: tuple[int, ...], solved: bool) -> None:
        rng = self.rng
        if not who:
            if not solved and rng.random() < BACKGROUND_PAWN:
                seller = new_identity(rng, item.thief, rng.random() < 0.8, self._dob(rng), offender=True)
                self._sale(item, t + rng.randrange(DAY, 20 * DAY), seller, self.rng.choice(self.shops))
            return
        lead = who[0]
        group = int(self.w.group_of[lead])
        if lead == self.fence.offender:
            return
        if group in self.fence.buys_from and rng.random() < FENCE_RATE:
            at = t + rng.randrange(3 * DAY, 40 * DAY)
            outlet = self._fence_outlet(at)
            self._sale(item, at, self.identities[self.fence.offender], outlet, kind="buy")
            if outlet[4] == self.w.cfg.resale_city:
                self.resold.setdefault(group, []).append(at)
        elif lead in self.identities and rng.random() < PAWN_RATE:
            self._sale(item, t + rng.randrange(DAY, 20 * DAY), self.identities[lead], rng.choice(self.shops))
        elif lead in self.identities:
            held = self.held.setdefault(lead, deque(maxlen=HELD))
            held.append(item)

    def _fence_outlet(self, at: int) -> tuple[str, str, float, float, str]:
        """Where the fence sells an item on `at`: a local pawn shop before the planted resale onset, then a
        dealer in the resale city."""
        if at < self.w.cfg.resale_start_day * DAY:
            return self.rng.choice(self.shops)
        name, licence, lat, lon = self.rng.choice(self.fence.dealers)
        return (name, licence, lat, lon, self.w.cfg.resale_city)

    def _dob(self, rng: random.Random) -> date:
        return date.fromordinal(self.start - rng.randrange(18, 45) * 365 - rng.randrange(365))

    def _sale(
        self,
        item: Item,
        at: int,
        seller: Identity,
        shop: tuple[str, str, float, float, str],
        kind: str = "pawn",
    ) -> None:
        """One row of the pawn export: the shop's transaction, the item as the shop wrote it, the seller."""
        rng = self.rng
        given, _, family, _, dob, _, address, _, _, id_number = variant(rng, seller, clean=rng.random() < 0.5)
        tid = f"T{self.next_sale:07d}"
        self.next_sale += 1
        name, licence, lat, lon, place = shop
        city = place if place == self.w.cfg.resale_city else self.w.cfg.city
        area = "" if city != self.w.cfg.city else place
        imei, serial = self._typo(item.imei), self._typo(item.serial)
        self.tables.write(
            "pawn_transactions",
            [
                self.w.cfg.agencies[0],
                tid,
                self.clock.iso(at),
                kind,
                name,
                licence,
                city,
                area,
                f"{lat:.6f}",
                f"{lon:.6f}",
                item.kind,
                item.make,
                item.model,
                imei,
                serial,
                "",
                given,
                family,
                dob,
                id_number or seller.id_number,
                address,
            ],
        )
        self.tables.write("person_truth", [f"{licence}:{tid}", seller.person_id])
        self.tables.write(
            "property_truth", [item.item_id, item.agency, item.incident_id, item.thief, seller.person_id, tid]
        )

    def _typo(self, value: str) -> str:
        """Mostly the identifier as it is; sometimes one character changed or two neighbours swapped."""
        rng = self.rng
        if not value or rng.random() >= TYPO_RATE:
            return value
        k = rng.randrange(len(value) - 1)
        if rng.random() < 0.5:
            return value[:k] + value[k + 1] + value[k] + value[k + 2 :] if value[k] != value[k + 1] else value
        digit = str((int(value[k]) + 1) % 10) if value[k].isdigit() else "7"
        return value[:k] + digit + value[k + 1 :]

    def _found_on(self, o: int, row: list[str], at: int) -> None:
        """An arrestee searched: an item from an earlier incident of theirs is found on them."""
        held = self.held.get(o)
        if not held or self.rng.random() >= FOUND_AT_ARREST:
            return
        item = held.popleft()
        record = self._own_record(o, row[1]) or ""
        eid = f"E{self.next_event:07d}"
        self.next_event += 1
        self.tables.write(
            "property_events",
            [
                eid,
                row[1],
                "found_on_person",
                self.clock.iso(at),
                item.kind,
                item.make,
                item.model,
                item.imei,
                item.serial,
                record,
                row[0],
                row[5],
                row[6],
                self.w.cfg.city,
                row[9],
            ],
        )
        self.tables.write(
            "property_truth", [item.item_id, item.agency, item.incident_id, item.thief, f"P{o + 1:06d}", eid]
        )

    def _own_record(self, o: int, agency: str) -> str | None:
        """The offender's record held by the agency that found the item (None: it holds none)."""
        start, count = int(self.w.rec_start[o]), int(self.w.rec_count[o])
        codes = self.w.rec_agency[start - 1 : start - 1 + count].tolist()
        want = self.w.cfg.agencies.index(agency)
        return f"R{start + codes.index(want):07d}" if want in codes else None

    def truth(self) -> dict[str, object]:
        """The planted fence (fence_truth.csv), each group's items surfacing in the resale city (the day of the
        first, item_spread_truth.csv) and a summary for city.json."""
        fence = self.fence
        person = f"P{fence.offender + 1:06d}"
        groups = ";".join(self.w.groups[g].group_id for g in sorted(fence.buys_from))
        cfg = self.w.cfg
        resale_from = self.clock.day(cfg.resale_start_day * DAY)
        for g, times in sorted(self.resold.items()):
            first = self.clock.day(min(times))
            self.tables.write(
                "item_spread_truth", [self.w.groups[g].group_id, cfg.resale_city, first, len(times)]
            )
        self.tables.write(
            "fence_truth", [person, self.w.groups[fence.group].group_id, groups, cfg.resale_city, resale_from]
        )
        return {
            "fence": {
                "person_id": person,
                "group_id": self.w.groups[fence.group].group_id,
                "buys_from": groups.split(";"),
                "resale_city": cfg.resale_city,
                "resale_from": resale_from,
            },
            "items": self.next_item - 1,
        }
