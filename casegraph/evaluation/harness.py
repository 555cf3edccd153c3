"""A synthetic city's truth against what the stages found: one scorer per stage, run on a store that holds the
city's results (the demo's own store, or a scratch store `evaluate_city` fills), and the found-vs-truth table."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from casegraph import ingest
from casegraph.errors import CasegraphError
from casegraph.evaluation import linkage, network, resolve, trends
from casegraph.evaluation.scratch import import_records, ingest_engine, scratch_store
from casegraph.evaluation.truth import missing_truth
from casegraph.pipeline import STAGE_NAMES, run_stage
from casegraph.progress import Progress
from casegraph.settings import Settings
from casegraph.store import Store

Scores = dict[str, Any]
# stage -> (its scorer, the truth files it reads, its rows of the found-vs-truth table)
STAGES: dict[str, tuple[Callable[[Store, Path], Scores], tuple[str, ...], Callable[[Scores], list]]] = {
    "resolve": (resolve.score, resolve.TRUTH, resolve.rows),
    "linkage": (linkage.score, linkage.TRUTH, linkage.rows),
    "network": (network.score, network.TRUTH, network.rows),
    "trends": (trends.score, trends.TRUTH, trends.rows),
}


def score_city(store: Store, city: Path, stages: tuple[str, ...] = STAGE_NAMES) -> dict[str, Scores]:
    """Each stage's output in the store scored against the city's truth files."""
    return {name: STAGES[name][0](store, Path(city)) for name in stages}


def truth_table(scores: dict[str, Scores]) -> list[dict[str, Any]]:
    """Rows of stage, measure, found, truth and quality, in stage order."""
    return [{"stage": name, **row} for name, s in scores.items() for row in STAGES[name][2](s)]


def evaluate_city(
    city: Path, settings: Settings, stages: tuple[str, ...] = STAGE_NAMES, progress: Progress | None = None
) -> dict[str, Any]:
    """Ingest a city into a scratch store, run every stage up to the last one asked for, and score the ones
    asked for. A stage before them that fails is reported and the rest go on (later stages read what there is);
    a failure of a scored stage is raised."""
    city = Path(city)
    unknown = [s for s in stages if s not in STAGES]
    missing = sorted({f for s in stages if s in STAGES for f in missing_truth(city, STAGES[s][1])})
    if unknown or missing:
        raise CasegraphError(
            f"unknown stage {', '.join(unknown)}"
            if unknown
            else f"{city} is not a synthetic city with truth: no {', '.join(missing)}"
        )
    started = time.perf_counter()
    with scratch_store(settings) as (store, s, work):
        import_records(store, s, work, lambda st, ss: ingest.run_folder(st, ss, city, progress=progress))
        ingest_seconds = time.perf_counter() - started
        last = max(STAGE_NAMES.index(name) for name in stages)
        ran = {name: _run(store, s, name, progress, name in stages) for name in STAGE_NAMES[: last + 1]}
        scores = score_city(store, city, tuple(n for n in STAGE_NAMES if n in stages))
        engines = {"engine": store.engine, "ingest_engine": ingest_engine(store)}
    return {
        "data": str(city),
        **engines,
        "stages": ran,
        "scores": scores,
        "table": truth_table(scores),
        "ingest_seconds": round(ingest_seconds, 3),
        "seconds": round(time.perf_counter() - started, 3),
    }


def _run(store: Store, settings: Settings, name: str, progress: Progress | None, scored: bool) -> str:
    """Run one stage: 'ok in N s', or (for a stage that is not scored) why it failed."""
    started = time.perf_counter()
    try:
        run_stage(store, settings, name, progress)
    except Exception as exc:
        if scored:
            raise
        return f"failed: {type(exc).__name__}: {exc}"[:300]
    return f"ok in {time.perf_counter() - started:.1f} s"
