"""Where a group's stolen items surface: a city its items reach after its baseline raises one alert, with the
sightings and the thefts as evidence; a city reached in the baseline, or by one item, does not."""

from __future__ import annotations

import pandas as pd

from casegraph.trends.alerts import item_city_alert, now_utc
from casegraph.trends.items import new_cities

START = pd.Timestamp("2024-01-01")


def sighting(group: str, item: str, city: str, day: int, incident: str = "I1") -> dict[str, object]:
    return {
        "group_id": group,
        "theft_agency": "metro_pd",
        "incident_id": incident,
        "item_id": item,
        "event_agency": "metro_pd",
        "event_id": f"E-{item}-{day}",
        "kind": "pawned",
        "occurred_at": START + pd.Timedelta(days=day),
        "city": city,
    }


def flows(*rows: dict[str, object]) -> pd.DataFrame:
    return pd.DataFrame(list(rows)).sort_values(["group_id", "occurred_at"])


def test_a_city_reached_after_the_baseline_by_two_items_raises_one_alert():
    found = new_cities(
        flows(
            sighting("G01", "X1", "Lakeside", 0),
            sighting("G01", "X2", "Lakeside", 100),
            sighting("G01", "X3", "Riverton", 400, "I7"),
            sighting("G01", "X3", "Riverton", 405, "I7"),  # the same item again: still one item
            sighting("G01", "X4", "Riverton", 410, "I9"),
        ),
        baseline_days=365,
        min_items=2,
    )
    assert [(f["group_id"], f["city"], f["items"]) for f in found] == [("G01", "Riverton", ["X3", "X4"])]
    assert (found[0]["first"], found[0]["raised_on"]) == (
        START + pd.Timedelta(days=400),
        START + pd.Timedelta(days=410),
    )
    assert found[0]["home"] == ["Lakeside"] and found[0]["incidents"] == ["I7", "I9"]


def test_a_city_of_the_baseline_or_one_item_raises_nothing():
    assert (
        new_cities(flows(sighting("G01", "X1", "Lakeside", 0), sighting("G01", "X2", "Riverton", 30)), 365, 1)
        == []
    )
    one = flows(sighting("G01", "X1", "Lakeside", 0), sighting("G01", "X2", "Riverton", 400))
    assert new_cities(one, 365, 2) == []
    assert [f["city"] for f in new_cities(one, 365, 1)] == ["Riverton"]


def test_the_alert_names_the_city_the_items_and_its_evidence():
    found = new_cities(
        flows(sighting("G01", "X1", "Lakeside", 0), sighting("G01", "X3", "Riverton", 400, "I7")), 365, 1
    )
    alert = item_city_alert(found[0], {"G01": "Blue Herons"}, "run-1", now_utc())
    assert alert["kind"] == "group_item_city" and alert["severity"] == "medium"
    assert alert["title"].startswith(
        "G01 (Blue Herons)'s stolen items surfacing in Riverton: 1 item from 2025-02-04"
    )
    assert alert["evidence"] == ["property_event:E-X3-400", "incident:I7"]
