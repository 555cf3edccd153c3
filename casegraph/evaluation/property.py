"""Stolen property against a synthetic city's truth: is the planted fence a key player, how much do item links
raise attribution of unsolved incidents to their true offender, and are near matches kept as candidates only.

Attribution is `casegraph attribute` itself, run with and without property evidence on a fixed sample of the
city's unsolved series incidents; an answer is right when its top offender is the incident's true offender
(a resolved person counts as the truth person most of its records belong to).
"""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path
from typing import Any

import pandas as pd

from casegraph import ingest
from casegraph.errors import CasegraphError
from casegraph.evaluation.scratch import import_records, scratch_store
from casegraph.evaluation.truth import missing_truth, truth_frame
from casegraph.linkage import attribute
from casegraph.network.queries import players
from casegraph.pipeline import run_stage
from casegraph.progress import NoProgress, Progress
from casegraph.settings import Settings
from casegraph.store import Store

TRUTH = ("fence_truth", "property_truth", "incident_truth", "person_truth")
STAGES = ("resolve", "linkage", "network")
KEY_PLAYERS = 10  # a fence is found when it is among the top key players by betweenness
SAMPLE = 300  # unsolved series incidents attributed (twice) per city


def evaluate_property(
    city: Path, settings: Settings, sample: int = SAMPLE, progress: Progress | None = None
) -> dict[str, Any]:
    """Ingest a city into a scratch store, run resolve, link and network, and score property evidence."""
    city = Path(city)
    missing = missing_truth(city, TRUTH)
    if missing:
        raise CasegraphError(f"{city} is not a synthetic city with property truth: no {', '.join(missing)}")
    started = time.perf_counter()
    with scratch_store(settings) as (store, s, work):
        import_records(store, s, work, lambda st, ss: ingest.run_folder(st, ss, city, progress=progress))
        for name in STAGES:
            run_stage(store, s, name, progress or NoProgress())
        scores = score(store, city, s, sample)
        engine = store.engine
    return {"data": str(city), "engine": engine, **scores, "seconds": round(time.perf_counter() - started, 3)}


def score(store: Store, city: Path, settings: Settings, sample: int = SAMPLE) -> dict[str, Any]:
    person_of = truth_person_of(store, city)
    fences = fence_ranks(store, city, person_of)
    with_p, without_p, n, with_items = attribution(store, city, settings, person_of, sample)
    near = near_matches(store)
    return {
        "fences": len(fences),
        "fences_found": sum(1 for r in fences.values() if r is not None and r <= KEY_PLAYERS),
        "fence_betweenness_rank": fences,
        "attribution_incidents": n,
        "attribution_incidents_with_items": with_items,
        "attribution_recall_with_property": round(with_p / n, 4) if n else None,
        "attribution_recall_without_property": round(without_p / n, 4) if n else None,
        **near,
    }


def truth_person_of(store: Store, city: Path) -> dict[str, str]:
    """Offender key as casegraph names it (a resolved person, else agency:record_id) -> truth person."""
    truth = truth_frame(city, "person_truth", ("record_id", "person_id"))
    record_person = dict(zip(truth["record_id"], truth["person_id"], strict=True))
    rows = store.rows("SELECT agency, record_id FROM person_records")
    resolved = dict(
        ((a, r), p)
        for a, r, p in store.rows(
            "SELECT agency, record_id, person_id FROM person_identities "
            "QUALIFY row_number() OVER (PARTITION BY agency, record_id ORDER BY run_id DESC) = 1"
        )
    )
    votes: dict[str, Counter[str]] = {}
    out: dict[str, str] = {}
    for agency, record in rows:
        person = record_person.get(record)
        if person is None:
            continue
        out[f"{agency}:{record}"] = person
        key = resolved.get((agency, record))
        if key is not None:
            votes.setdefault(key, Counter())[person] += 1
    out.update({key: c.most_common(1)[0][0] for key, c in votes.items()})
    return out


def fence_ranks(store: Store, city: Path, person_of: dict[str, str]) -> dict[str, int | None]:
    """Each planted fence's best rank among key players by betweenness (None: not in the network)."""
    fences = truth_frame(city, "fence_truth", ("person_id",))["person_id"].tolist()
    ranked = players(store, by="betweenness", limit=1_000_000)["person_id"].tolist()
    ranks: dict[str, int | None] = {}
    for fence in fences:
        found = [k + 1 for k, p in enumerate(ranked) if person_of.get(p) == fence]
        ranks[fence] = min(found) if found else None
    return ranks


def unsolved_series_incidents(store: Store, city: Path, sample: int) -> pd.DataFrame:
    """A fixed, evenly spread sample of open incidents of a planted series, with their true offenders."""
    truth = truth_frame(city, "incident_truth", ("incident_id", "offender_id", "series_id"))
    truth = truth[truth["series_id"].notna() & (truth["series_id"] != "")]
    open_ids = store.df(
        "SELECT agency, incident_id FROM incidents WHERE status = 'open' ORDER BY incident_id"
    )
    offenders = truth.groupby("incident_id")["offender_id"].agg(set).rename("offenders").reset_index()
    chosen = open_ids.merge(offenders, on="incident_id")
    step = max(1, len(chosen) // sample) if sample else 1
    return chosen.iloc[::step].head(sample).reset_index(drop=True)


def attribution(
    store: Store, city: Path, settings: Settings, person_of: dict[str, str], sample: int
) -> tuple[int, int, int, int]:
    """(right with property, right without, incidents attributed, of them with an identified item)."""
    chosen = unsolved_series_incidents(store, city, sample)
    items = set(truth_frame(city, "property_truth", ("incident_id",))["incident_id"])
    right = {True: 0, False: 0}
    for agency, incident_id, truth in chosen.itertuples(index=False):
        for use in (True, False):
            answer = attribute(store, incident_id, settings.linkage, agency=agency, top=1, use_property=use)
            top = answer["offenders"][0]["offender"] if answer["offenders"] else None
            right[use] += int(person_of.get(top) in truth) if top is not None else 0
    return right[True], right[False], len(chosen), int(chosen["incident_id"].isin(items).sum())


def near_matches(store: Store) -> dict[str, int]:
    """Near-match candidates, and item links (score 1) whose identifiers differ without an analyst's decision
    that they are one item: always 0 by design."""
    counts = dict(store.rows("SELECT kind, count(*) FROM property_links GROUP BY kind"))
    differ = store.scalar(
        "SELECT count(*) FROM property_links WHERE kind = 'item' AND identifier_a <> identifier_b "
        "AND decision IS DISTINCT FROM 'same-item'"
    )
    return {
        "item_links": int(counts.get("item", 0)),
        "near_match_candidates": int(counts.get("near_match", 0)),
        "hard_links_from_near_matches": int(differ or 0),
    }
