"""`run`: encode incidents, block, train and choose the pair model, score all candidates, form series."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score, roc_auc_score

from casegraph.errors import CasegraphError
from casegraph.lineage import LINEAGE, id_changes, lineage_rows
from casegraph.linkage import default
from casegraph.linkage.blocking import Candidates, candidates_of, choose_plan, sample_rows
from casegraph.linkage.comparisons import Comparison, selected
from casegraph.linkage.default import DEFAULT_KIND
from casegraph.linkage.encode import IncidentEncoder
from casegraph.linkage.index import (
    Artefact,
    IncidentIndex,
    RunContext,
    build_index,
    drop_other_runs,
    forget_cache,
    read_incidents,
)
from casegraph.linkage.model import LinkModel
from casegraph.linkage.neighbours import Scales, linked_scales
from casegraph.linkage.property import incident_pairs, property_links
from casegraph.linkage.score import score_candidates, with_decisions, write_links
from casegraph.linkage.series import cluster_links, series_frame
from casegraph.linkage.training import (
    NoTrainingPairs,
    TrainingSet,
    decided_rows,
    fit_models,
    linked_pairs_of,
    offender_keys,
    population_sample,
    training_set,
    with_decided,
)
from casegraph.progress import NoProgress, Progress
from casegraph.settings import LinkageSettings, Settings
from casegraph.store import Store, require_engine


class Clock:
    """Wall and CPU seconds per phase, for the run summary. The CPU seconds are the whole process's (every
    thread's): on a shared machine wall time says as much about the other processes as about this one, and
    CPU above wall shows a phase using more than one core."""

    def __init__(self) -> None:
        self.started = self.last = time.perf_counter()
        self.last_cpu = time.process_time()
        self.phases: dict[str, float] = {}
        self.phases_cpu: dict[str, float] = {}

    def lap(self, phase: str) -> None:
        now, cpu = time.perf_counter(), time.process_time()
        self.phases[phase] = round(now - self.last, 3)
        self.phases_cpu[phase] = round(cpu - self.last_cpu, 3)
        self.last, self.last_cpu = now, cpu

    def total(self) -> float:
        return round(time.perf_counter() - self.started, 3)


ENGINES = ("duckdb",)  # the engines this stage runs on (the store's engine decides)


def run(store: Store, settings: Settings, *, progress: Progress | None = None) -> dict[str, Any]:
    """Score all candidate pairs into incident_links and cluster them into series (replacing the last run)."""
    require_engine(store, "linkage", ENGINES)
    run_id = store.new_run("linkage", settings.linkage.model_dump())
    try:
        summary = _run(store, settings.linkage, run_id, progress or NoProgress())
    except BaseException as exc:  # a run that stops for any reason is rolled back
        store.finish_run(run_id, "failed", {"error": str(exc)})
        raise
    store.finish_run(run_id, "ok", summary)
    return summary


def encode_incidents(
    store: Store, run_id: str, s: LinkageSettings
) -> tuple[IncidentIndex, IncidentEncoder, tuple[Comparison, ...]]:
    frame = read_incidents(store, selected(s.features or None))
    if frame.empty:
        raise CasegraphError("there are no incidents to link: ingest incidents first")
    comparisons = recorded(selected(s.features or None), frame)
    encoder = IncidentEncoder(comparisons=comparisons, text_dims=s.text_dims, random_state=s.random_state)
    encoder.fit(frame)
    if encoder.text_model_ is None:
        comparisons = tuple(c for c in comparisons if c.kind != "text")
        encoder.comparisons = comparisons
    return build_index(store, run_id, frame, encoder), encoder, comparisons


def recorded(comparisons: tuple[Comparison, ...], frame: pd.DataFrame) -> tuple[Comparison, ...]:
    """The comparisons whose fields are recorded for at least one incident (the others carry no evidence)."""

    def has(name: str) -> bool:
        return name in frame and bool(frame[name].notna().any())

    def usable(c: Comparison) -> bool:
        either = c.kind in ("range_gap", "time_gap", "cycle_gap")  # one bound or occurred_from suffices
        return any(map(has, c.fields)) if either else all(map(has, c.fields))

    return tuple(c for c in comparisons if usable(c))


def _run(store: Store, s: LinkageSettings, run_id: str, progress: Progress) -> dict[str, Any]:
    clock = Clock()
    index, encoder, comparisons = encode_incidents(store, run_id, s)
    clock.lap("encode")
    keys = offender_keys(store, run_id, s.offender_roles)
    ctx, cands = blocked(store, run_id, index, comparisons, s, scales_of(index, keys, default.scales(), s))
    clock.lap("block")
    decided = decided_rows(store, index)
    data, best, fitted = train(ctx, keys, cands, decided)
    clock.lap("train")
    notes = missing_notes(index, comparisons, data, best)
    model_id = save_models(ctx, fitted, best, data, encoder, notes)
    scored = score_candidates(ctx, fitted[best], s.link_threshold, cands, progress=progress)
    scored = with_decisions(ctx, fitted[best], scored, decided)
    clock.lap("score")
    n_links = write_links(ctx, model_id, scored, fitted[best])
    clock.lap("explain")
    items = write_property_links(store, run_id)
    hard_i, hard_j = hard_link_rows(store, run_id, index)
    clock.lap("property")
    series = cluster_links(
        *with_hard_links(scored.i, scored.j, scored.probability, hard_i, hard_j),
        threshold=s.series_threshold,
        resolution=s.series_resolution,
        seed=s.random_state,
    )
    previous = store.df(
        "SELECT agency || '/' || incident_id AS key, series_id AS id FROM series WHERE run_id <> ?", [run_id]
    )
    rows, id_events = series_frame(series, run_id, index, previous)
    store.write("series", rows)
    at = pd.Timestamp.now(tz="UTC").tz_localize(None)
    store.write(LINEAGE, lineage_rows(id_events, run_id=run_id, stage="linkage", at=at))
    drop_other_runs(store, run_id)
    forget_cache()
    clock.lap("series")
    return {
        "run_id": run_id,
        "n_incidents": len(index),
        "features": [c.name for c in comparisons],
        "blocking": blocking_summary(ctx, cands),
        "n_candidates": scored.n_candidates,
        "training": {
            "solved_incidents": int(keys["row_no"].nunique()),
            "pairs": len(data.y) if data else 0,
            "linked": int(data.y.sum()) if data else 0,
            "candidates_among_solved": data.n_candidates if data else 0,
            "analyst_decisions": data.n_decisions if data else 0,
        },
        "decisions_in_force": len(decided),
        "models": {k: m.cv_scores_ for k, m in fitted.items() if k != DEFAULT_KIND or data},
        "selected_model": best,
        "model_id": model_id,
        "model": describe(best, data),
        "notes": notes,
        "linked_share": {
            "training": round(fitted[best].training_prior_, 5),
            "candidates": round(fitted[best].prior_, 5),
        },
        "n_links": n_links,
        "property_links": {**items, "incident_pairs": len(hard_i)},
        "n_series": int(series.series.max() + 1) if len(series) else 0,
        "incidents_in_series": len(series),
        "series_ids": id_changes(id_events),
        "seconds": clock.total(),
        "phases": clock.phases,
        "phases_cpu": clock.phases_cpu,
    }


def write_property_links(store: Store, run_id: str) -> dict[str, int]:
    """This run's item links and near-match candidates; counts by kind."""
    links = property_links(store, run_id)
    if links.empty:
        return {"item": 0, "near_match": 0}
    store.write("property_links", links)
    counts = links["kind"].value_counts()
    return {k: int(counts.get(k, 0)) for k in ("item", "near_match")}


def hard_link_rows(store: Store, run_id: str, index: IncidentIndex) -> tuple[np.ndarray, np.ndarray]:
    """Index rows of the incident pairs an item links (score 1 beside the model's links in series)."""
    pairs = incident_pairs(store, run_id)
    row_of = {(a, i): r for r, (a, i) in enumerate(zip(index.agency, index.incident_id, strict=True))}
    rows = [
        (row_of[(a, i)], row_of[(b, j)])
        for a, i, b, j in pairs.itertuples(index=False)
        if (a, i) in row_of and (b, j) in row_of
    ]
    i, j = (np.array(x, dtype=np.int64) for x in zip(*rows, strict=True)) if rows else (np.zeros(0, int),) * 2
    return i, j


def with_hard_links(
    i: np.ndarray, j: np.ndarray, p: np.ndarray, hard_i: np.ndarray, hard_j: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The model's links with the item links added at probability 1 (a pair in both counted once)."""
    if not len(hard_i):
        return i, j, p
    pairs = pd.DataFrame(
        {
            "i": np.minimum(np.concatenate([i, hard_i]), np.concatenate([j, hard_j])),
            "j": np.maximum(np.concatenate([i, hard_i]), np.concatenate([j, hard_j])),
            "p": np.concatenate([p, np.ones(len(hard_i))]),
        }
    )
    best = pairs.groupby(["i", "j"], as_index=False, sort=False)["p"].max()
    return best["i"].to_numpy(), best["j"].to_numpy(), best["p"].to_numpy()


def scales_of(index: IncidentIndex, keys: pd.DataFrame, default: Scales, s: LinkageSettings) -> Scales:
    """The neighbour search's axes, from the pairs of solved incidents sharing an offender."""
    i, j = linked_pairs_of(keys, len(index)) if len(keys) else (np.zeros(0, int), np.zeros(0, int))
    return linked_scales(index.encoded, i, j, default, s.max_gap_days)


def blocked(
    store: Store,
    run_id: str,
    index: IncidentIndex,
    comparisons: tuple[Comparison, ...],
    s: LinkageSettings,
    scales: Scales,
) -> tuple[RunContext, Candidates]:
    """The run's blocking plan and its candidate pairs."""
    plan = choose_plan(store, run_id, s, len(index), scales)
    ctx = RunContext(store, run_id, index, plan, comparisons, s)
    return ctx, candidates_of(ctx)


def blocking_summary(ctx: RunContext, cands: Candidates) -> dict[str, Any]:
    return {
        **ctx.plan.as_dict(),
        "candidates_per_incident": round(cands.per_incident(), 1),
        "most_per_incident": ctx.settings.max_candidates_per_incident,
        "pairs_by_pass": cands.passes,
    }


def train(
    ctx: RunContext, keys: pd.DataFrame, cands: Candidates, decided: pd.DataFrame
) -> tuple[TrainingSet | None, str, dict[str, LinkModel]]:
    """The agency's own models (when its solved incidents allow) and the shipped one, the one with the best
    average precision on the agency's labelled pairs selected (the shipped model never saw them; the own
    models are scored out of fold), each then shifted to the candidates' linked share."""
    fitted = {DEFAULT_KIND: default.load(ctx.comparisons)}
    try:
        data: TrainingSet | None = with_decided(ctx, training_set(ctx, keys, cands), decided)
    except NoTrainingPairs:
        data = None
    if data is not None:
        _, own = fit_models(data, ctx.comparisons, ctx.settings)
        fitted[DEFAULT_KIND].cv_scores_ = held_out_scores(fitted[DEFAULT_KIND], data)
        fitted.update(own)
    best = max(fitted, key=lambda k: (fitted[k].cv_scores_["average_precision"], k != DEFAULT_KIND))
    population = population_sample(ctx, sample_rows(len(ctx.index), ctx.settings))
    for model in fitted.values():
        if len(population):
            model.adapt_prior(population)
    return data, best, fitted


def model_card(kind: str, model: LinkModel, data: TrainingSet | None) -> dict[str, Any]:
    """What `casegraph link model` shows: what it learned from, held-out scores, calibration curve."""
    shipped = kind == DEFAULT_KIND
    return {
        "kind": kind,
        "model": describe(kind, data),
        "trained_on": default.card()["trained_on"] if shipped else "this store's solved incidents",
        "training_pairs": default.card()["n_pairs"] if shipped else (len(data.y) if data else 0),
        "linked_training_pairs": default.card()["n_linked"]
        if shipped
        else (int(data.y.sum()) if data else 0),
        "analyst_decisions": 0 if shipped or data is None else data.n_decisions,
        "held_out": {
            "on_this_store" if shipped else "out_of_fold": model.cv_scores_ if data is not None else None,
            **({"on_its_training_city_out_of_fold": default.card()["cv_scores"]} if shipped else {}),
        },
        "calibration": getattr(model, "calibration_", None) or default.card().get("calibration"),
        "linked_share": {"training": model.training_prior_, "candidates": model.prior_},
    }


def held_out_scores(model: LinkModel, data: TrainingSet) -> dict[str, float]:
    z = model.decision_function(data.X)
    return {
        "auc": float(roc_auc_score(data.y, z)),
        "average_precision": float(average_precision_score(data.y, z)),
    }


def describe(kind: str, data: TrainingSet | None) -> str:
    if kind == DEFAULT_KIND:
        why = "too few solved incidents sharing an offender" if data is None else "it scored better"
        return f"the model shipped with casegraph ({default.card()['trained_on']}; {why})"
    return f"this store's own {kind} model ({int(data.y.sum()) if data else 0} linked training pairs)"


def missing_notes(
    index: IncidentIndex, comparisons: tuple[Comparison, ...], data: TrainingSet | None, best: str
) -> list[str]:
    """What the data do not support, said with every answer."""
    notes = []
    if data is None:
        notes.append(
            "no solved incidents sharing an offender (involvements in an offender role or arrests): "
            "scores come from the shipped model, calibrated to this store's incidents without labels"
        )
    x = index.encoded.columns.get("x")
    if x is None or not np.isfinite(x).any():
        notes.append("no coordinates: distance is not compared and neighbours are found by time alone")
    unused = [c.name for c in default.known_features() if c not in comparisons]
    if unused:
        notes.append(f"fields not recorded, not compared: {', '.join(unused)}")
    return notes


def save_models(
    ctx: RunContext,
    fitted: dict[str, LinkModel],
    best: str,
    data: TrainingSet | None,
    encoder: IncidentEncoder,
    notes: list[str],
) -> str:
    """One linkage_models row per fitted kind; returns the selected model's id."""
    fingerprint = data.fingerprint(ctx.index) if data else None
    rows = []
    for kind, model in fitted.items():
        model_id = f"{ctx.run_id}:{kind}"
        artefact = Artefact(encoder, model, ctx.comparisons, ctx.plan, ctx.index.encoded.dtype())
        artefact.description, artefact.notes = describe(kind, data), notes
        text, digest = artefact.dumps()
        rows.append(
            {
                "model_id": model_id,
                "run_id": ctx.run_id,
                "kind": kind,
                "selected": kind == best,
                "created_at": datetime.now(UTC).replace(tzinfo=None),
                "features": [c.name for c in ctx.comparisons],
                "n_pairs": len(data.y) if data else 0,
                "n_linked": int(data.y.sum()) if data else 0,
                "cv_auc": model.cv_scores_["auc"],
                "cv_average_precision": model.cv_scores_["average_precision"],
                "training_fingerprint": fingerprint,
                "settings_json": ctx.settings.model_dump_json(),
                "artefact": text,
                "artefact_sha256": digest,
                "card": json.dumps(model_card(kind, model, data)),
            }
        )
    ctx.store.write("linkage_models", pd.DataFrame(rows))
    return f"{ctx.run_id}:{best}"
