"""Stolen property against a synthetic city's truth: is the planted fence a key player, are the groups it buys
from tied through it (a tie of its own kind, outside the group-tie test), how much do item links raise
attribution of unsolved incidents to their true offender, are near matches kept as candidates only, and does
the group_item_city alert fire when the fence starts reselling in a new city (and how late).

Attribution is `casegraph attribute` itself, run with and without property evidence on a fixed sample of the
city's unsolved series incidents; an answer is right when its top offender is the incident's true offender
(a resolved person counts as the truth person most of its records belong to).
"""

from __future__ import annotations

import json
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pandas as pd

from casegraph import ingest, trends
from casegraph.errors import CasegraphError
from casegraph.evaluation.scratch import import_records, scratch_store
from casegraph.evaluation.truth import missing_truth, truth_frame
from casegraph.linkage import attribute
from casegraph.network.queries import players
from casegraph.pipeline import run_stage
from casegraph.progress import NoProgress, Progress
from casegraph.settings import Settings
from casegraph.store import Store

TRUTH = ("fence_truth", "item_spread_truth", "property_truth", "incident_truth", "person_truth")
STAGES = ("resolve", "linkage", "network", "trends")
KEY_PLAYERS = 10  # a fence is found when it is among the top key players by betweenness
SAMPLE = 300  # unsolved series incidents attributed (twice) per city


def evaluate_property(
    city: Path, settings: Settings, sample: int = SAMPLE, progress: Progress | None = None
) -> dict[str, Any]:
    """Ingest a city into a scratch store, run resolve, link, network and trends, and score property evidence."""
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
        "fence_betweenness_rank_among_people": fence_ranks(store, city, person_of, people_only=True),
        **fence_ties(store, city, person_of),
        **item_city_onsets(store, city),
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


def fence_ranks(
    store: Store, city: Path, person_of: dict[str, str], *, people_only: bool = False
) -> dict[str, int | None]:
    """Each planted fence's best rank among key players by betweenness (None: not in the network): among every
    node (dealers too), or among people only."""
    fences = truth_frame(city, "fence_truth", ("person_id",))["person_id"].tolist()
    ranked = players(store, by="betweenness", limit=1_000_000)
    if people_only:
        ranked = ranked[ranked["node"] != "dealer"]
    ids = ranked["person_id"].tolist()
    ranks: dict[str, int | None] = {}
    for fence in fences:
        found = [k + 1 for k, p in enumerate(ids) if person_of.get(p) == fence]
        ranks[fence] = min(found) if found else None
    return ranks


def fence_ties(store: Store, city: Path, person_of: dict[str, str]) -> dict[str, Any]:
    """Pairs of the groups the fence buys from, how many group_receiver_ties name the fence as their receiver,
    and how many of those pairs the group-tie test calls significant without a planted tie between them."""
    fence = truth_frame(city, "fence_truth", ("person_id", "buys_from")).iloc[0]
    groups = sorted(str(fence["buys_from"]).split(";"))
    pairs = {f"{a}|{b}" for k, a in enumerate(groups) for b in groups[k + 1 :]}
    through = store.df("SELECT pair, receiver FROM group_receiver_ties")
    found = {
        p
        for p, r in zip(through["pair"], through["receiver"], strict=True)
        if person_of.get(r) == fence["person_id"]
    }
    planted = truth_frame(city, "group_tie_truth", ("group_a", "group_b"))
    planted_pairs = {"|".join(sorted(p)) for p in zip(planted["group_a"], planted["group_b"], strict=True)}
    significant = set(store.df("SELECT pair FROM group_ties WHERE significant")["pair"])
    return {
        "fence_group_pairs": len(pairs),
        "fence_group_pairs_through_fence": len(pairs & found),
        "fence_group_pairs_significant_unplanted": len((pairs & significant) - planted_pairs),
    }


def item_city_onsets(store: Store, city: Path) -> dict[str, Any]:
    """The planted onset (from resale_from the fence sells in the resale city; item_spread_truth: each group
    whose items surfaced there, from when) against the trends stage's group_item_city alerts: which fired, the
    days from the planted onset and from the group's first item there to the day each was raised; alerts for a
    group and city not planted."""
    onset = pd.Timestamp(truth_frame(city, "fence_truth", ("resale_from",))["resale_from"].iloc[0])
    truth = truth_frame(city, "item_spread_truth", ("group_id", "city", "first_date", "items"))
    planted = {
        (str(g), str(c)): pd.Timestamp(d)
        for g, c, d in zip(truth["group_id"], truth["city"], truth["first_date"], strict=True)
    }
    raised: dict[tuple[str, str], pd.Timestamp] = {}
    for _, a in trends.alerts(store, "group_item_city").iterrows():
        detail = json.loads(a["detail"]) if isinstance(a["detail"], str) else dict(a["detail"])
        raised[(str(a["subject"]), str(detail["city"]))] = pd.Timestamp(detail["raised_on"])

    def delays(since: dict[tuple[str, str], pd.Timestamp]) -> dict[str, int | None]:
        return {
            g: (raised[(g, c)] - since[(g, c)]).days if (g, c) in raised else None for g, c in sorted(since)
        }

    fired = delays({k: onset for k in planted})
    return {
        "item_city_onset": onset.date().isoformat(),
        "item_city_onsets": len(planted),
        "item_city_items": dict(zip(truth["group_id"].astype(str), truth["items"].astype(int), strict=True)),
        "item_city_onset_alerts": sum(1 for d in fired.values() if d is not None),
        "item_city_alert_delay_days": fired,
        "item_city_alert_delay_from_first_item_days": delays(planted),
        "item_city_false_alerts": sorted(f"{g}:{c}" for g, c in raised if (g, c) not in planted),
    }


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
