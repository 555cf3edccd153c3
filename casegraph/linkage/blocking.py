"""Choosing the blocking limits of a run: the settings' limits, narrowed where incidents are so dense that
the candidates per incident would exceed the budget (the run summary reports what was used and why)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from casegraph.linkage.candidates import Blocking, count_candidates_sql, shrunk
from casegraph.linkage.index import INDEX, params_for
from casegraph.settings import LinkageSettings
from casegraph.store import Store

SAMPLE = 2000


def configured(settings: LinkageSettings) -> Blocking:
    return Blocking(settings.max_gap_days * 24.0, settings.max_distance_m, settings.same_family)


def sample_rows(n_incidents: int, settings: LinkageSettings) -> np.ndarray:
    """A fixed random sample of index rows (to estimate candidate counts and the linked share)."""
    rng = np.random.default_rng(settings.random_state)
    return np.sort(rng.choice(n_incidents, min(n_incidents, SAMPLE), replace=False)).astype(np.int64)


def per_incident(store: Store, run_id: str, blocking: Blocking, rows: np.ndarray) -> float:
    """Mean candidates per incident over a sample of index rows."""
    with store.registered("_tmp_linkage_sample", pa.table({"row_no": rows})) as name:
        sql = count_candidates_sql(INDEX, blocking, name)
        return float(store.scalar(sql, params_for(sql, {"run": run_id, **blocking.params()}))) / max(
            1, len(rows)
        )


def choose_blocking(
    store: Store, run_id: str, settings: LinkageSettings, n_incidents: int
) -> tuple[Blocking, float]:
    """The limits to use and the estimated candidates per incident under them."""
    blocking = configured(settings)
    rows = sample_rows(n_incidents, settings)
    estimate = per_incident(store, run_id, blocking, rows)
    for _ in range(4):
        if estimate <= settings.max_candidates_per_incident * 1.05:
            break
        blocking = shrunk(blocking, settings.max_candidates_per_incident / estimate)
        estimate = per_incident(store, run_id, blocking, rows)
    return blocking, estimate
