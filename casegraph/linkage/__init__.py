"""Stage `linkage`: which incidents were committed by the same offender or crew.

Candidate pairs by blocking (offence family, time gap, distance) in the store's SQL engine; vectorised pair
features; a calibrated pair model trained on solved incidents (naive-Bayes baseline or gradient-boosted
trees, chosen by grouped cross-validation); every stored link explained feature by feature; series as
Leiden clusters of the link graph; `similar` and `attribute` answer for one incident.
"""

from __future__ import annotations

from casegraph.linkage.attribute import attribute
from casegraph.linkage.comparisons import COMPARISONS, fields_read
from casegraph.linkage.incremental import update
from casegraph.linkage.query import similar
from casegraph.linkage.stage import ENGINES, run

READS = (
    "incidents",
    "involvements",
    "arrests",
    "person_identities",
    "membership_claims",
    "groups",
    "series",
    "incident_links",
    "linkage_models",
    "linkage_index",
    "linkage_decisions",
    "property_items",
    "property_events",
    "property_decisions",
)
# `update` links new incidents into the last run; a change in these tables needs a full run instead.
FULL_RUN_ON = ("linkage_decisions",)
WRITES = ("incident_links", "property_links", "series", "linkage_models", "linkage_index", "id_lineage")

# The schema fields features, blocking keys and link explanations are computed from (checked by
# tests/contracts/test_no_protected_features.py; comparisons.selected also refuses any protected field).
FEATURE_FIELDS = {"incidents": fields_read(COMPARISONS)}
COMPARISON_FIELDS = FEATURE_FIELDS
LINK_REASON_FIELDS = FEATURE_FIELDS
BLOCKING_FIELDS = (
    "incidents.offence",
    "incidents.occurred_from",
    "incidents.occurred_to",
    "incidents.x",
    "incidents.y",
)

__all__ = [
    "BLOCKING_FIELDS",
    "COMPARISON_FIELDS",
    "ENGINES",
    "FEATURE_FIELDS",
    "FULL_RUN_ON",
    "LINK_REASON_FIELDS",
    "READS",
    "WRITES",
    "attribute",
    "run",
    "similar",
    "update",
]
