"""Where a group's stolen items surface (issue 22): the item links (the same IMEI or serial, score 1) that join an
item taken in one of the group's incidents to a later sighting (pawned, sold, recovered, found on a person,
reported by a carrier) give the group's item flows; a city where its items start surfacing after its baseline
raises an alert ("present in multiple metropolitan areas"), with the sightings and the thefts as evidence."""

from __future__ import annotations

from typing import Any

import pandas as pd

from casegraph.store import Store

# Each hard item link, read both ways round: the theft side (an item taken in an incident) and the sighting side.
FLOWS_SQL = """
WITH hard AS (SELECT * FROM property_links WHERE kind = 'item' AND score = 1),
sides AS (
    SELECT agency_a AS theft_agency, incident_a AS incident_id, sighting_a AS item_id, agency_b AS event_agency,
           sighting_b AS event_id FROM hard WHERE sighting_kind_a = 'taken' AND sighting_kind_b <> 'taken'
    UNION
    SELECT agency_b, incident_b, sighting_b, agency_a, sighting_a FROM hard
    WHERE sighting_kind_b = 'taken' AND sighting_kind_a <> 'taken'
)
SELECT s.theft_agency, s.incident_id, s.item_id, s.event_agency, s.event_id, e.kind, e.occurred_at, e.city
FROM sides s JOIN property_events e ON e.agency = s.event_agency AND e.event_id = s.event_id
WHERE e.city IS NOT NULL AND trim(e.city) <> ''
"""


def item_flows(store: Store, links: pd.DataFrame) -> pd.DataFrame:
    """One row per (group, item sighting): the group whose incident the item was taken in, and where and when the
    item surfaced. `links`: the group_incidents rows of this run (group_id, agency, incident_id)."""
    if not {"property_links", "property_events"} <= set(store.table_names()) or links.empty:
        return pd.DataFrame(
            columns=["group_id", "theft_agency", "incident_id", "item_id", "event_id", "city"]
        )
    sightings = store.df(FLOWS_SQL)
    groups = links[["group_id", "agency", "incident_id"]].drop_duplicates()
    groups = groups.rename(columns={"agency": "theft_agency"})
    return sightings.merge(groups, on=["theft_agency", "incident_id"]).sort_values(
        ["group_id", "occurred_at"]
    )


def new_cities(flows: pd.DataFrame, baseline_days: int, min_items: int) -> list[dict[str, Any]]:
    """Per group, the cities its items reached after its baseline (the first `baseline_days` of its sightings),
    once `min_items` distinct items surfaced there: the city, the day of the first, the items and sightings."""
    found = []
    for group, rows in flows.groupby("group_id"):
        start = pd.Timestamp(rows["occurred_at"].min())
        home = set(rows.loc[rows["occurred_at"] < start + pd.Timedelta(days=baseline_days), "city"])
        for city, there in rows[~rows["city"].isin(home)].groupby("city"):
            items = there.drop_duplicates("item_id")
            if len(items) >= min_items:
                reached = items.iloc[min_items - 1]
                found.append(
                    {
                        "group_id": str(group),
                        "city": str(city),
                        "first": pd.Timestamp(there["occurred_at"].min()),
                        "raised_on": pd.Timestamp(reached["occurred_at"]),
                        "home": sorted(home),
                        "items": sorted(items["item_id"]),
                        "events": sorted(there["event_id"]),
                        "incidents": sorted(set(there["incident_id"])),
                        "thefts_in": sorted(set(there["theft_agency"])),
                    }
                )
    return found
