"""Knox pair counts as SQL (grid cells joined to their neighbours) equal the vectorised near-repeat table."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from casegraph import trends
from casegraph.trends.knox import near_repeat


def _incidents(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    # a few tight clusters (near repeats), exact repeats and scattered points, over two offences
    centres = rng.uniform(0, 3000, size=(12, 2))
    xy = centres[rng.integers(0, 12, n)] + rng.normal(0, 150, size=(n, 2))
    xy[: n // 10] = xy[n // 10 : 2 * (n // 10)]  # exact repeats
    days = rng.integers(0, 120, n)
    return pd.DataFrame(
        {
            "agency": np.where(rng.random(n) < 0.5, "north", "south"),
            "incident_id": [f"i{k}" for k in range(n)],
            "offence": np.where(rng.random(n) < 0.6, "burglary", "robbery"),
            "x": xy[:, 0],
            "y": xy[:, 1],
            "occurred_from": pd.Timestamp("2025-01-01") + pd.to_timedelta(days, unit="D"),
        }
    )


@pytest.mark.parametrize(("closed", "metric"), [("right", "euclidean"), ("left", "manhattan")])
def test_sql_counts_equal_the_numpy_table(store, settings, closed: str, metric: str) -> None:
    incidents = _incidents(900, seed=3)
    store.write("incidents", incidents)
    cfg = settings.trends.model_copy(update={"knox_closed": closed, "knox_distance": metric})
    counts = trends.knox_counts(store, cfg)
    for offence, rows in incidents.groupby("offence"):
        days = (rows["occurred_from"] - rows["occurred_from"].min()).dt.days.to_numpy()
        table = near_repeat(
            rows[["x", "y"]].to_numpy(float),
            days,
            space=cfg.knox_space_bands,
            time_bands=cfg.knox_time_bands,
            permutations=0,
            closed=closed,
            metric=metric,
        )
        found = np.zeros_like(table.observed)
        mine = counts[counts["offence"] == offence]
        found[mine["space_band"].to_numpy(int), mine["time_band"].to_numpy(int)] = mine["pairs"].to_numpy()
        assert table.observed.sum() > 50  # the points do have near repeats to count
        np.testing.assert_array_equal(found, table.observed)
