"""Blocking in SQL returns exactly the pairs a brute-force comparison of every pair finds."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from casegraph.linkage.candidates import Blocking, candidate_pairs_sql, seed_candidates_sql, shrunk
from casegraph.linkage.index import INDEX, params_for

N = 400


def _index(seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    t_lo = rng.uniform(0, 24 * 120, N)
    width = np.where(rng.random(N) < 0.5, 0.0, rng.exponential(30.0, N))
    width[:5] = 24 * 40  # a few windows much longer than the gap
    x, y = rng.uniform(0, 8000, N), rng.uniform(0, 8000, N)
    x[rng.random(N) < 0.05] = np.nan
    return pd.DataFrame(
        {
            "run_id": "r1",
            "row_no": np.arange(N),
            "agency": "a",
            "incident_id": [f"I{k}" for k in range(N)],
            "family": rng.choice(["property", "vehicle"], N),
            "t_lo": t_lo,
            "t_hi": t_lo + width,
            "x": x,
            "y": y,
            "encoded": "",
        }
    )


def _brute(frame: pd.DataFrame, b: Blocking) -> set[tuple[int, int]]:
    i, j = np.triu_indices(len(frame), k=1)
    a, c = frame.iloc[i].reset_index(drop=True), frame.iloc[j].reset_index(drop=True)
    keep = np.ones(len(i), bool)
    if b.same_family:
        keep &= a["family"].to_numpy() == c["family"].to_numpy()
    if b.gap_hours:
        gap = np.maximum(
            a["t_lo"].to_numpy() - c["t_hi"].to_numpy(), c["t_lo"].to_numpy() - a["t_hi"].to_numpy()
        )
        keep &= gap <= b.gap_hours
    if b.distance_m:
        d = np.hypot(a["x"].to_numpy() - c["x"].to_numpy(), a["y"].to_numpy() - c["y"].to_numpy())
        keep &= d <= b.distance_m  # NaN compares False: an incident without a place is never a candidate
    return set(zip(i[keep].tolist(), j[keep].tolist(), strict=True))


@pytest.mark.parametrize(
    "blocking",
    [
        Blocking(24 * 7, 1500, True),
        Blocking(24 * 7, 0, True),
        Blocking(0, 1500, False),
        Blocking(0, 0, True),
        Blocking(24 * 2.5, 700, False),
    ],
)
def test_sql_blocking_equals_brute_force(store, blocking):
    frame = _index()
    store.write(INDEX, frame)
    sql = candidate_pairs_sql(INDEX, blocking)
    got = store.rows(sql, params_for(sql, {"run": "r1", **blocking.params()}))
    assert len(got) == len(set(got)), "a pair must be emitted once"
    assert set(got) == _brute(frame, blocking)
    assert all(i < j for i, j in got)


def test_subset_restricts_both_sides(store):
    frame = _index(1)
    store.write(INDEX, frame)
    blocking = Blocking(24 * 10, 2000, True)
    rows = np.arange(0, N, 3)
    with store.registered("_tmp_subset", pa.table({"row_no": rows})) as name:
        sql = candidate_pairs_sql(INDEX, blocking, subset=name)
        got = set(store.rows(sql, params_for(sql, {"run": "r1", **blocking.params()})))
    expected = {(i, j) for i, j in _brute(frame, blocking) if i % 3 == 0 and j % 3 == 0}
    assert got == expected


def test_seed_query_finds_the_same_candidates(store):
    frame = _index(2)
    store.write(INDEX, frame)
    blocking = Blocking(24 * 7, 1500, True)
    pairs = _brute(frame, blocking)
    seed = int(frame["x"].notna().idxmax())
    row = frame.iloc[seed]
    values = {
        "run": "r1",
        "family": row["family"],
        "lo": row["t_lo"],
        "hi": row["t_hi"],
        "x": row["x"],
        "y": row["y"],
        **blocking.params(),
    }
    sql = seed_candidates_sql(INDEX, blocking)
    got = {r[0] for r in store.rows(sql, params_for(sql, values))} - {seed}
    assert got == {j for i, j in pairs if i == seed} | {i for i, j in pairs if j == seed}


def test_shrinking_scales_the_expected_pair_count():
    b = shrunk(Blocking(24 * 40, 2000, True), 1 / 8)
    assert b.gap_hours * b.distance_m**2 == pytest.approx(24 * 40 * 2000**2 / 8)
    assert shrunk(Blocking(0, 0, True), 0.1) == Blocking(0, 0, True)  # nothing to shrink


def test_chunked_candidates_are_the_union_of_the_passes_each_pair_once(store):
    from casegraph.linkage.blocking import Plan, candidates
    from casegraph.linkage.encode import Encoded
    from casegraph.linkage.neighbours import NeighbourIndex, Scales, embed

    frame = _index(3)
    store.write(INDEX, frame)
    window, k = Blocking(24 * 5, 1200, True), 4
    encoded = Encoded({c: frame[c].to_numpy(float) for c in ("t_lo", "t_hi", "x", "y")})
    points, placed = embed(encoded, Scales(800.0, 6.0))
    neighbours = NeighbourIndex.build(points, placed, frame["family"].to_numpy(str))
    expected = _brute(frame, window) | {
        (min(i, j), max(i, j))
        for a, b in neighbours.pairs(k)
        for i, j in zip(a.tolist(), b.tolist(), strict=True)
    }
    plan = Plan(False, window, k, Scales(800.0, 6.0))
    for chunk_rows in (37, N):  # many chunks (pairs spilled to files) and one
        found = candidates(store, "r1", plan, neighbours, N, chunk_rows)
        i, j = found.arrays()
        assert len(found) == len(i) == len(expected) and len(found.chunks) == -(-N // chunk_rows)
        assert set(zip(i.tolist(), j.tolist(), strict=True)) == expected
        assert np.all(np.diff(i * N + j) > 0)  # sorted by i then j, no pair twice
        within = found.within(np.arange(0, N, 2))
        wi, wj = within.arrays()
        assert set(zip(wi.tolist(), wj.tolist(), strict=True)) == {
            (a, b) for a, b in expected if a % 2 == 0 and b % 2 == 0
        }
