"""A synthetic city of police records with known ground truth, for the demo, tests and benchmarks.

``make_city(out_dir, n_incidents, seed)`` writes one CSV per record table (incidents, person_records,
arrests, involvements, groups, membership_claims, contacts, contact_participants), the truth files
(incident_truth, person_truth, group_truth, group_tie_truth, spread_truth) and ``city.json``.

Planted on purpose: crews with territories and MO habits committing series; person records with the
variants entity resolution must see through; a tie between G01 and G02 that begins at a known onset;
and G03 spreading into new districts from a known date. Incidents are streamed in chunks, so ten
million generate in flat memory. Pure Python and numpy; deterministic for a seed.
"""

from __future__ import annotations

from casegraph.demo.city import make_city
from casegraph.demo.config import CityConfig

__all__ = ["CityConfig", "make_city"]
