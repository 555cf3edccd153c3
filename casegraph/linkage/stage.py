"""`run`: encode incidents, block, train and choose the pair model, score all candidates, form series."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd

from casegraph.errors import CasegraphError
from casegraph.linkage.blocking import Candidates, candidates_of, choose_plan, sample_rows
from casegraph.linkage.comparisons import Comparison, selected
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
from casegraph.linkage.neighbours import FALLBACK, Scales, linked_scales
from casegraph.linkage.score import score_candidates, write_links
from casegraph.linkage.series import cluster_links, series_frame
from casegraph.linkage.training import (
    TrainingSet,
    fit_models,
    linked_pairs_of,
    offender_keys,
    population_sample,
    training_set,
)
from casegraph.progress import NoProgress, Progress
from casegraph.settings import LinkageSettings, Settings
from casegraph.store import Store


class Clock:
    """Wall time per phase, for the run summary."""

    def __init__(self) -> None:
        self.started = self.last = time.perf_counter()
        self.phases: dict[str, float] = {}

    def lap(self, phase: str) -> None:
        now = time.perf_counter()
        self.phases[phase] = round(now - self.last, 3)
        self.last = now

    def total(self) -> float:
        return round(time.perf_counter() - self.started, 3)


def run(store: Store, settings: Settings, *, progress: Progress | None = None) -> dict[str, Any]:
    """Score all candidate pairs into incident_links and cluster them into series (replacing the last run)."""
    run_id = store.new_run("linkage", settings.linkage.model_dump(), settings.user.id)
    try:
        summary = _run(store, settings.linkage, run_id, progress or NoProgress())
    except Exception as exc:
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
    ctx, cands = blocked(store, run_id, index, comparisons, s, scales_of(index, keys, FALLBACK, s))
    clock.lap("block")
    data, best, fitted = train(ctx, keys, cands)
    clock.lap("train")
    model_id = save_models(ctx, fitted, best, data, encoder)
    scored = score_candidates(ctx, fitted[best], s.link_threshold, cands, progress=progress)
    clock.lap("score")
    n_links = write_links(ctx, model_id, scored, fitted[best])
    clock.lap("explain")
    series = cluster_links(
        scored.i,
        scored.j,
        scored.probability,
        threshold=s.series_threshold,
        resolution=s.series_resolution,
        seed=s.random_state,
    )
    store.write("series", series_frame(series, run_id, index))
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
            "pairs": len(data.y),
            "linked": int(data.y.sum()),
            "candidates_among_solved": data.n_candidates,
        },
        "models": {k: m.cv_scores_ for k, m in fitted.items()},
        "selected_model": best,
        "model_id": model_id,
        "linked_share": {
            "training": round(fitted[best].training_prior_, 5),
            "candidates": round(fitted[best].prior_, 5),
        },
        "n_links": n_links,
        "n_series": int(series.series.max() + 1) if len(series) else 0,
        "incidents_in_series": len(series),
        "seconds": clock.total(),
        "phases": clock.phases,
    }


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
    ctx: RunContext, keys: pd.DataFrame, cands: Candidates
) -> tuple[TrainingSet, str, dict[str, LinkModel]]:
    """Fit the model kinds on labelled candidate pairs, then shift each to the candidates' linked share."""
    data = training_set(ctx, keys, cands)
    best, fitted = fit_models(data, ctx.comparisons, ctx.settings)
    population = population_sample(ctx, sample_rows(len(ctx.index), ctx.settings))
    for model in fitted.values():
        model.adapt_prior(population)
    return data, best, fitted


def save_models(
    ctx: RunContext, fitted: dict[str, LinkModel], best: str, data: TrainingSet, encoder: IncidentEncoder
) -> str:
    """One linkage_models row per fitted kind; returns the selected model's id."""
    fingerprint = data.fingerprint(ctx.index)
    rows = []
    for kind, model in fitted.items():
        model_id = f"{ctx.run_id}:{kind}"
        text, digest = Artefact(encoder, model, ctx.comparisons, ctx.plan, ctx.index.encoded.dtype()).dumps()
        rows.append(
            {
                "model_id": model_id,
                "run_id": ctx.run_id,
                "kind": kind,
                "selected": kind == best,
                "created_at": datetime.now(UTC).replace(tzinfo=None),
                "features": [c.name for c in ctx.comparisons],
                "n_pairs": len(data.y),
                "n_linked": int(data.y.sum()),
                "cv_auc": model.cv_scores_["auc"],
                "cv_average_precision": model.cv_scores_["average_precision"],
                "training_fingerprint": fingerprint,
                "settings_json": ctx.settings.model_dump_json(),
                "artefact": text,
                "artefact_sha256": digest,
            }
        )
    ctx.store.write("linkage_models", pd.DataFrame(rows))
    return f"{ctx.run_id}:{best}"
