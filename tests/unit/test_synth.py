"""The synthetic city: files, references, planted truth (tie, spread, identities, claims), determinism."""

from __future__ import annotations

import csv
import json
import re
from collections import Counter, defaultdict
from datetime import date
from pathlib import Path

import pytest

from casegraph.demo import CityConfig, make_city
from casegraph.demo.property import ITEMS
from casegraph.demo.writer import HEADERS
from casegraph.schema.identifiers import is_valid_imei

N = 3000
SEED = 5
TS = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$")
CRITERIA = {
    "self_admission",
    "arrested_with_members",
    "identified_by_reliable_informant",
    "corroborated_by_other_source",
    "group_tattoos_or_symbols",
    "frequents_group_area",
    "group_clothing_or_signs",
    "joint_offending_with_members",
    "communication_with_members",
    "named_in_court_record",
}


class Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[str, object]] = []

    def start(self, total: int, label: str) -> None:
        self.calls.append(("start", total))

    def advance(self, n: int = 1) -> None:
        self.calls.append(("advance", n))

    def finish(self) -> None:
        self.calls.append(("finish", None))


def rows(city: Path, table: str) -> list[dict[str, str]]:
    with (city / f"{table}.csv").open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict, Recorder]:
    city = tmp_path_factory.mktemp("city")
    progress = Recorder()
    summary = make_city(city, n_incidents=N, seed=SEED, progress=progress)
    return city, summary, progress


@pytest.fixture(scope="module")
def city(made: tuple[Path, dict, Recorder]) -> Path:
    return made[0]


@pytest.fixture(scope="module")
def person_group(city: Path) -> dict[str, str]:
    return {r["person_id"]: r["group_id"] for r in rows(city, "group_truth")}


@pytest.fixture(scope="module")
def record_person(city: Path) -> dict[str, str]:
    return {r["record_id"]: r["person_id"] for r in rows(city, "person_truth")}


def test_files_headers_and_counts(made: tuple[Path, dict, Recorder]) -> None:
    city, summary, _ = made
    for table, header in HEADERS.items():
        with (city / f"{table}.csv").open(encoding="utf-8") as fh:
            assert next(csv.reader(fh)) == list(header), table
        assert summary["counts"][f"{table}.csv"] == len(rows(city, table))
    assert summary["counts"]["incidents.csv"] == N
    meta = json.loads((city / "city.json").read_text())
    assert meta["config"]["seed"] == SEED and meta["tie"]["group_a"] == "G01"
    assert not {"race", "nationality", "religion"} & set(HEADERS["person_records"])


def test_progress_is_reported(made: tuple[Path, dict, Recorder]) -> None:
    calls = made[2].calls
    assert calls[0] == ("start", N) and calls[-1] == ("finish", None)
    assert sum(n for kind, n in calls if kind == "advance") == N


def test_references_are_consistent(city: Path) -> None:
    records = {r["record_id"] for r in rows(city, "person_records")}
    incidents = {r["incident_id"] for r in rows(city, "incidents")}
    contacts = {r["contact_id"] for r in rows(city, "contacts")}
    groups = {r["group_id"] for r in rows(city, "groups")}
    for table in ("arrests", "involvements", "membership_claims", "contact_participants"):
        assert {r["record_id"] for r in rows(city, table)} <= records, table
    for table in ("arrests", "involvements", "incident_truth"):
        assert {r["incident_id"] for r in rows(city, table) if r["incident_id"]} <= incidents, table
    assert {r["contact_id"] for r in rows(city, "contact_participants")} <= contacts
    assert {r["group_id"] for r in rows(city, "membership_claims")} <= groups
    assert {r["incident_id"] for r in rows(city, "incident_truth")} == incidents


def test_incident_values(city: Path) -> None:
    offences = {"robbery", "burglary", "theft", "vehicle_theft", "theft_from_vehicle"}
    for r in rows(city, "incidents"):
        assert r["offence"] in offences and r["status"] in ("open", "solved")
        assert TS.match(r["occurred_from"]) and r["occurred_from"] <= r["occurred_to"] < "2025-01-01"
        assert r["occurred_from"] >= "2023-01-01" and re.match(r"^D(0[1-9]|1\d|2[0-5])$", r["area"])
        assert 0 <= float(r["x"]) <= 20_000 and 0 <= float(r["y"]) <= 20_000
        assert 41.75 < float(r["lat"]) < 41.95 and -87.83 < float(r["lon"]) < -87.57
        if r["offence"] == "robbery":
            assert r["occurred_from"] == r["occurred_to"]
    for r in rows(city, "arrests"):
        assert TS.match(r["arrested_at"]) and r["arrested_at"] < "2026-11-24"


def test_background_share_and_series(city: Path) -> None:
    truth = rows(city, "incident_truth")
    background = {r["incident_id"] for r in truth if r["offender_id"].startswith("B")}
    assert 0.4 <= len(background) / N <= 0.5
    assert all(r["series_id"] == "" for r in truth if r["incident_id"] in background)
    series = Counter(r["series_id"] for r in truth if r["series_id"])
    assert len(series) > 100 and max(series.values()) >= 5


def test_person_truth_and_variants(city: Path, record_person: dict[str, str]) -> None:
    people = rows(city, "person_records")
    sellers = {f"{r['shop_licence']}:{r['transaction_id']}" for r in rows(city, "pawn_transactions")}
    assert {r["record_id"] for r in people} | sellers == set(record_person)
    by_person: dict[str, list[dict[str, str]]] = defaultdict(list)
    for r in people:
        by_person[record_person[r["record_id"]]].append(r)
    offenders = [p for p in by_person if p.startswith("P")]
    multi = [p for p in offenders if len(by_person[p]) >= 2]
    assert len(multi) / len(offenders) > 0.75
    differing = sum(
        len({(r["given_name"], r["family_name"], r["dob"], r["address"]) for r in by_person[p]}) > 1
        for p in multi
    )
    assert differing / len(multi) > 0.6
    given = Counter(r["given_name"] for r in people)
    assert given["Bob"] + given["Bill"] + given["Mike"] + given["Jim"] + given["Tony"] > 0  # nicknames occur
    offender_ids = {
        r["offender_id"] for r in rows(city, "incident_truth") if r["offender_id"].startswith("P")
    }
    assert offender_ids <= set(by_person)


def _incident_groups(city: Path, person_group: dict[str, str]) -> dict[str, set[str]]:
    groups: dict[str, set[str]] = defaultdict(set)
    for r in rows(city, "incident_truth"):
        if r["offender_id"] in person_group:
            groups[r["incident_id"]].add(person_group[r["offender_id"]])
    return groups


def _contact_groups(
    city: Path, person_group: dict[str, str], record_person: dict[str, str]
) -> dict[str, set]:
    groups: dict[str, set[str]] = defaultdict(set)
    for r in rows(city, "contact_participants"):
        g = person_group.get(record_person[r["record_id"]])
        if g:
            groups[r["contact_id"]].add(g)
    return groups


def test_planted_tie(city: Path, person_group: dict[str, str], record_person: dict[str, str]) -> None:
    (tie,) = rows(city, "group_tie_truth")
    assert (tie["group_a"], tie["group_b"]) == ("G01", "G02")
    when = {r["incident_id"]: r["occurred_from"][:10] for r in rows(city, "incidents")}
    joint = [i for i, g in _incident_groups(city, person_group).items() if {"G01", "G02"} <= g]
    assert len(joint) >= 5 and all(when[i] >= tie["onset"] for i in joint)
    pairs = Counter(frozenset(g) for g in _incident_groups(city, person_group).values() if len(g) == 2)
    assert all(n < len(joint) for pair, n in pairs.items() if pair != {"G01", "G02"})
    at = {r["contact_id"]: r["occurred_at"][:10] for r in rows(city, "contacts")}
    cross: Counter[frozenset[str]] = Counter()
    for cid, groups in _contact_groups(city, person_group, record_person).items():
        if {"G01", "G02"} <= groups:
            assert at[cid] >= tie["onset"]
        for a in groups:
            cross.update(frozenset((a, b)) for b in groups if a < b)
    planted = cross[frozenset(("G01", "G02"))]
    assert planted >= 10 and all(n < planted for pair, n in cross.items() if pair != {"G01", "G02"})


def test_spread_and_territories(made: tuple[Path, dict, Recorder], person_group: dict[str, str]) -> None:
    city, summary, _ = made
    home = {g["group_id"]: set(g["home"]) for g in summary["groups"]}
    spread = rows(city, "spread_truth")
    assert 2 <= len(spread) <= 3 and {r["group_id"] for r in spread} == {"G03"}
    new = {r["area"]: r["first_date"] for r in spread}
    start = summary["spread"]["start"]
    first_dates = [r["first_date"] for r in spread]
    assert first_dates == sorted(first_dates) and first_dates[0] >= start
    incidents = {r["incident_id"]: r for r in rows(city, "incidents")}
    seen: dict[str, str] = {}
    for iid, groups in _incident_groups(city, person_group).items():
        area, day = incidents[iid]["area"], incidents[iid]["occurred_from"][:10]
        for g in groups:
            if g == "G03" and area in new:
                seen[area] = min(day, seen.get(area, day))
                assert day >= start
            else:
                assert area in home[g], (g, area)  # no group strays outside its home ground
    assert seen == new


def five_years_after(day: date) -> str:
    if (day.month, day.day) == (2, 29):
        return f"{day.year + 5}-02-28"
    return day.replace(year=day.year + 5).isoformat()


def test_claims(city: Path, person_group: dict[str, str], record_person: dict[str, str]) -> None:
    claims = rows(city, "membership_claims")
    ids = {
        "incident": {r["incident_id"]: r["occurred_to"] for r in rows(city, "incidents")},
        "arrest": {r["arrest_id"]: r["arrested_at"] for r in rows(city, "arrests")},
        "contact": {r["contact_id"]: r["occurred_at"] for r in rows(city, "contacts")},
    }
    claimed = {record_person[c["record_id"]] for c in claims}
    assert 0.5 < len(claimed) / len(person_group) < 0.9
    for c in claims:
        criteria = c["criteria"].split(";")
        assert len(set(criteria)) >= 2 and set(criteria) <= CRITERIA
        assert person_group[record_person[c["record_id"]]] == c["group_id"]
        times = []
        for item in c["evidence"].split(";"):
            table, _, key = item.partition(":")
            times.append(ids[table][key])
        latest = date.fromisoformat(max(times)[:10])
        assert c["entered_at"] > max(times) and TS.match(c["entered_at"])
        assert c["review_date"] == five_years_after(latest)
        assert c["entered_by"]


def test_deterministic_for_a_seed(tmp_path: Path) -> None:
    cfg = CityConfig(n_incidents=800, seed=3, chunk_rows=100)  # many windows: chunking must not matter
    make_city(tmp_path / "a", config=cfg)
    make_city(tmp_path / "b", n_incidents=800, seed=3)
    make_city(tmp_path / "c", n_incidents=800, seed=4)
    for table in HEADERS:
        name = f"{table}.csv"
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), table
    assert (tmp_path / "a" / "incidents.csv").read_bytes() != (tmp_path / "c" / "incidents.csv").read_bytes()


def test_config_scales_with_n() -> None:
    small, big = CityConfig(n_incidents=4000), CityConfig(n_incidents=10_000_000)
    assert (small.n_groups, small.n_offenders) == (5, 200)
    assert (big.n_groups, big.n_offenders) == (12, 500_000)
    assert small.agencies == ("metro_pd", "county_so", "transit_pd")
    with pytest.raises(ValueError):
        CityConfig(n_incidents=100)


def test_stolen_property(city: Path) -> None:
    """Items with valid identifiers from incidents that list phones or laptops; sales by their thieves or by
    the planted fence (at home, then from a planted day in the resale city), a few mistyped; truth for every
    sighting."""
    incidents = {r["incident_id"]: r for r in rows(city, "incidents")}
    items = {r["item_id"]: r for r in rows(city, "property_items")}
    assert len(items) > 100
    for r in items.values():
        assert r["kind"] in {"phone", "laptop", "tablet", "bicycle", "tool", "other", "jewellery"}
        assert set(ITEMS) & set(incidents[r["incident_id"]]["property_taken"].split(";"))
        assert is_valid_imei(r["imei"]) if r["kind"] == "phone" else r["serial"] and not r["imei"]
    fence = rows(city, "fence_truth")
    assert len(fence) == 1 and len(fence[0]["buys_from"].split(";")) == 3
    sales = {r["transaction_id"]: r for r in rows(city, "pawn_transactions")}
    truth = rows(city, "property_truth")
    by_fence = [t for t in truth if t["holder_id"] == fence[0]["person_id"]]
    assert len(by_fence) > 10
    onset = fence[0]["resale_from"]
    cities = {
        (sales[t["event_id"]]["transaction_date"][:10] >= onset, sales[t["event_id"]]["shop_city"])
        for t in by_fence
    }
    assert cities == {(False, "Lakeside"), (True, fence[0]["resale_city"])}  # the planted onset in a new city
    spread = rows(city, "item_spread_truth")
    assert spread and {r["group_id"] for r in spread} <= set(fence[0]["buys_from"].split(";"))
    assert all(r["city"] == fence[0]["resale_city"] and r["first_date"] >= onset for r in spread)
    resold = [t for t in by_fence if sales[t["event_id"]]["shop_city"] == fence[0]["resale_city"]]
    assert sum(int(r["items"]) for r in spread) == len(resold)
    thieves = {t["offender_id"] for t in by_fence}
    assert len(thieves) > 3  # several crews sell to the fence
    mistyped = [
        t
        for t in truth
        if t["event_id"] in sales
        and (sales[t["event_id"]]["imei"] or sales[t["event_id"]]["serial"])
        not in (items[t["item_id"]]["imei"], items[t["item_id"]]["serial"])
    ]
    assert 0 < len(mistyped) < 0.2 * len(sales)
