"""Stage `network`: who works with whom, who connects groups, and which groups are starting to work together.

Writes `person_ties` (typed, weighted, dated person ties with their evidence ids), `group_ties` (every pair of
recorded groups with cross ties: strength, ratio to chance under a configuration null model, p-value,
Benjamini-Hochberg q-value, first/latest evidence, detection and onset dates), `group_tie_evidence` (every
event behind a cross-group tie), `key_players` (degree, betweenness, Gould-Fernandez brokerage, cross-group
ties, Leiden community; dealers that took in stolen items are nodes too), `group_receiver_ties` (pairs of
groups whose stolen items went to one fence or dealer: their own kind of tie, outside the test) and its `alerts` (group_tie_new, group_tie_growing). The statistics work on a
PersonGraph alone, so folders of CSV files can be analysed without a store (see evaluate.py).
"""

from __future__ import annotations

from casegraph.network.graphs import PersonGraph, build_graph
from casegraph.network.queries import acknowledge, alerts, graph_frames, person, players, tie, ties
from casegraph.network.roles import agreement, key_players
from casegraph.network.stage import ENGINES, run
from casegraph.network.ties import group_ties

READS = (
    "person_records",
    "person_identities",
    "incidents",
    "involvements",
    "arrests",
    "contacts",
    "contact_participants",
    "membership_claims",
    "groups",
    "series",
    "property_links",
    "property_events",
    "reviews",
    "users",
    "alerts",
)
WRITES = ("person_ties", "group_ties", "group_tie_evidence", "group_receiver_ties", "key_players", "alerts")
# The schema fields that make a tie between two people (checked: none may be protected).
LINK_REASON_FIELDS = {
    "involvements": ["incident_id", "record_id", "role"],
    "arrests": ["incident_id", "record_id", "arrested_at"],
    "contacts": ["contact_id", "kind", "occurred_at"],
    "contact_participants": ["contact_id", "record_id"],
    "person_records": ["record_id", "address", "postcode"],
    "series": ["series_id", "incident_id"],
    "incidents": ["incident_id", "occurred_from"],
    "membership_claims": ["record_id", "group_id", "criteria", "evidence"],
    "property_links": [
        "kind",
        "sighting_a",
        "sighting_b",
        "incident_a",
        "incident_b",
        "record_a",
        "record_b",
    ],
    "property_events": ["event_id", "record_id", "dealer", "dealer_id", "occurred_at"],
}

__all__ = [
    "ENGINES",
    "LINK_REASON_FIELDS",
    "READS",
    "WRITES",
    "PersonGraph",
    "acknowledge",
    "agreement",
    "alerts",
    "build_graph",
    "graph_frames",
    "group_ties",
    "key_players",
    "person",
    "players",
    "run",
    "tie",
    "ties",
]
