"""Local Knox, modified Knox, Jacquez and Mantel: pointpats' own test values on its Burkitt data (from
pointpats 2.5.5, pointpats/tests/test_spacetime.py and the doctests in pointpats/spacetime.py), pointpats run
beside them on Burkitt and the Chicago burglaries (same numpy RandomState: same permutations, so equal p-values),
and the definitions written the slow way on small random data."""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pandas as pd
import pytest
from scipy.stats import pearsonr

from casegraph.trends import spacetime as st
from tests.conftest import shared_data

libpysal = pytest.importorskip(
    "libpysal", reason="pointpats (dev extras) brings libpysal and its Burkitt data"
)

# pointpats' test_knox_local: events with a space-time pair, their hypergeometric and permutation p-values
# (numpy.random.seed(12345), 99 permutations).
BURKITT_PAIRED = [25, 26, 30, 31, 35, 36, 41, 42, 46, 47, 51, 52, 102, 103, 116, 118, 122, 123, 137, 138, 139]
BURKITT_PAIRED += [140, 158, 159, 162, 163]
BURKITT_P_HYPERGEOM = [
    *[0.1348993, 0.14220663, 0.07335085, 0.08400282, 0.1494317, 0.21524073, 0.0175806, 0.04599869],
    *[0.17523687, 0.18209188, 0.19111321, 0.16830444, 0.13734428, 0.14703242, 0.06796364, 0.03192559],
    *[0.13734428, 0.17523687, 0.12998154, 0.1933476, 0.13244507, 0.13244507, 0.12502644, 0.14703242],
    *[0.12502644, 0.12998154],
]
BURKITT_P_SIMS = [0.3, 0.33, 0.11, 0.17, 0.3, 0.42, 0.06, 0.06, 0.33, 0.34, 0.36, 0.38, 0.3, 0.29, 0.41]
BURKITT_P_SIMS += [0.19, 0.31, 0.39, 0.18, 0.39, 0.48, 0.41, 0.22, 0.41, 0.39, 0.32]


@pytest.fixture(scope="module")
def burkitt() -> tuple[np.ndarray, np.ndarray]:
    table = libpysal.io.open(libpysal.examples.get_path("burkitt.dbf"))
    try:
        xy = np.column_stack([table.by_col("X"), table.by_col("Y")]).astype(float)
        return xy, np.asarray(table.by_col("T"), dtype=float)
    finally:
        table.close()


def pointpats():
    return pytest.importorskip("pointpats", reason="pointpats is in the dev extras")


def quietly(fn):
    """pointpats' own warnings (libpysal: 'the weights matrix is not fully connected') are not ours."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn()


# -- pointpats' own test values ----------------------------------------------------------------------------
def test_local_knox_gives_pointpats_test_values(burkitt):
    r = st.local_knox(*burkitt, delta=20, tau=5, permutations=99, seed=np.random.RandomState(12345))
    assert r.nst.shape == (188,)
    assert np.flatnonzero(r.nst > 0).tolist() == BURKITT_PAIRED
    np.testing.assert_allclose(r.p_hypergeom[BURKITT_PAIRED], BURKITT_P_HYPERGEOM, rtol=1e-5, atol=0)
    assert r.p_sim[BURKITT_PAIRED].tolist() == BURKITT_P_SIMS
    # pointpats' test_knox: the global test on the same data
    assert (r.overall["nst"], r.overall["ns"] - r.overall["nst"], r.overall["nt"] - r.overall["nst"]) == (
        13,
        3416,
        39,
    )
    assert r.overall["expected"] == pytest.approx(10.1438161, rel=1e-7)
    assert r.overall["p_poisson"] == pytest.approx(0.14624558197140414, rel=1e-12)
    assert r.overall["p_sim"] == 0.21


def test_jacquez_mantel_and_modified_knox_give_pointpats_test_values(burkitt):
    xy, t = burkitt
    assert st.jacquez(xy, t, k=3, permutations=1)["stat"] == 12
    plain = st.mantel(xy, t, permutations=1, scon=0.0, spow=1.0, tcon=0.0, tpow=1.0)
    assert plain["stat"] == pytest.approx(0.014154, rel=1e-4)
    assert st.modified_knox(xy, t, delta=20, tau=5, permutations=1)["stat"] == pytest.approx(
        2.810160, rel=1e-4
    )
    # the doctests, under numpy.random.seed(100)
    mantel = st.mantel(xy, t, permutations=99, seed=np.random.RandomState(100))
    assert (f"{mantel['stat']:6.6f}", f"{mantel['p_sim']:2.2f}") == ("0.048368", "0.01")
    modified = st.modified_knox(xy, t, delta=20, tau=5, permutations=99, seed=np.random.RandomState(100))
    assert (f"{modified['stat']:2.8f}", f"{modified['p_sim']:2.2f}") == ("2.81016043", "0.11")
    jacquez = st.jacquez(xy, t, k=3, permutations=99, seed=np.random.RandomState(100))
    assert jacquez["stat"] == 12 and not jacquez["p_sim"] < 0.01


# -- pointpats run beside them -----------------------------------------------------------------------------
def _compare_with_pointpats(xy, t, *, delta, tau, k, permutations, seed):
    pp = pointpats()
    ours = st.local_knox(
        xy, t, delta=delta, tau=tau, permutations=permutations, seed=np.random.RandomState(seed)
    )
    np.random.seed(seed)
    theirs = quietly(
        lambda: pp.KnoxLocal(xy, t.reshape(-1, 1), delta=delta, tau=tau, permutations=permutations)
    )
    assert np.array_equal(ours.nst, theirs.nsti)
    assert np.array_equal(ours.p_sim, theirs.p_sims)
    np.testing.assert_allclose(ours.p_hypergeom, theirs.p_hypergeom, rtol=1e-12, atol=1e-14)
    assert (ours.overall["nst"], ours.overall["p_sim"]) == (theirs.nst, theirs.p_sim)
    for inference in ("analytic", "permutation"):
        hot = quietly(lambda inference=inference: theirs.hotspots(crit=0.05, inference=inference))
        chains = ours.chains(0.05, inference)
        assert set(chains["event"]) == set(hot["focal"])
        drivers = set(chains.loc[chains["driver"], "event"])
        assert drivers == set(hot.loc[hot["pvalue"] <= 0.05, "focal"])
    for name, ours_fn, theirs_fn in (
        (
            "jacquez",
            lambda rs: st.jacquez(xy, t, k=k, permutations=permutations, seed=rs),
            lambda: pp.jacquez(xy, t.reshape(-1, 1), k, permutations),
        ),
        (
            "modified",
            lambda rs: st.modified_knox(xy, t, delta=delta, tau=tau, permutations=permutations, seed=rs),
            lambda: pp.modified_knox(xy, t.reshape(-1, 1), delta, tau, permutations),
        ),
        (
            "mantel",
            lambda rs: st.mantel(xy, t, permutations=permutations, seed=rs),
            lambda: pp.mantel(xy, t.reshape(-1, 1), permutations),
        ),
    ):
        mine = ours_fn(np.random.RandomState(seed))
        np.random.seed(seed)
        ref = quietly(theirs_fn)
        assert mine["stat"] == pytest.approx(ref["stat"], rel=1e-10, abs=1e-12), name
        assert mine["p_sim"] == ref["pvalue"], name
    return ours


def test_equal_to_pointpats_on_burkitt_with_other_seeds(burkitt):
    r = _compare_with_pointpats(*burkitt, delta=20, tau=5, k=3, permutations=49, seed=7)
    assert r.overall["n"] == 188


@pytest.mark.realdata
def test_equal_to_pointpats_on_the_chicago_burglaries():
    frame = pd.read_csv(
        shared_data("near_repeat_calculator", "chicago_be_month1.csv"), header=None, names=["x", "y", "date"]
    )
    t = (pd.to_datetime(frame["date"]) - pd.Timestamp("2015-12-31")).dt.days.to_numpy().astype(float)
    r = _compare_with_pointpats(
        frame[["x", "y"]].to_numpy(), t, delta=200, tau=7, k=5, permutations=19, seed=3
    )
    assert r.overall["n"] == 970 and len(r.chains(0.05)) > 0


# -- the definitions written the slow way --------------------------------------------------------------------
@pytest.fixture
def small() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(31)
    return rng.integers(0, 20, size=(70, 2)) * 25.0, rng.integers(0, 30, size=70).astype(float)


def test_local_counts_and_conditional_permutations_by_brute_force(small):
    xy, t = small
    r = st.local_knox(xy, t, delta=100, tau=3, permutations=30, seed=np.random.RandomState(2), keep=True)
    n = len(t)
    near = np.hypot(*(xy[:, None] - xy[None]).transpose(2, 0, 1)) <= 100
    soon = np.abs(t[:, None] - t[None]) <= 3
    np.fill_diagonal(near, False)
    np.fill_diagonal(soon, False)
    assert r.ns.tolist() == near.sum(1).tolist() and r.nt.tolist() == soon.sum(1).tolist()
    assert r.nst.tolist() == (near & soon).sum(1).tolist()
    # Permutation k (after the 30 of the global test) gives every other event a random time, event i its own.
    rs = np.random.RandomState(2)
    for _ in range(30):
        rs.permutation(n)
    for k in range(30):
        order = rs.permutation(n)
        for i in range(n):
            fixed = order.copy()
            fixed[order == i], fixed[i] = order[i], i
            expected = sum(1 for j in np.flatnonzero(near[i]) if abs(t[fixed[j]] - t[i]) <= 3)
            assert r.sims[i, k] == expected


def test_chains_group_drivers_and_their_neighbours():
    # two bursts of near repeats in a quiet background; the background has no space-time pairs
    rng = np.random.default_rng(5)
    background = rng.uniform(0, 20000, size=(300, 2)), rng.integers(0, 1000, size=300).astype(float)
    burst_a = np.array([[5000.0, 5000.0]]) + rng.uniform(0, 60, size=(6, 2)), 100 + np.arange(6.0)
    burst_b = np.array([[15000.0, 2000.0]]) + rng.uniform(0, 60, size=(5, 2)), 700 + np.arange(5.0)
    xy = np.vstack([background[0], burst_a[0], burst_b[0]])
    t = np.concatenate([background[1], burst_a[1], burst_b[1]])
    r = st.local_knox(xy, t, delta=100, tau=7, permutations=99, seed=1)
    chains = r.chains(0.05)
    assert set(chains["event"]) <= set(range(300, 311)) and chains["driver"].sum() >= 8
    assert chains.groupby("chain")["event"].apply(set).tolist() == [
        set(range(300, 306)),
        set(range(306, 311)),
    ]
    first = chains[chains["event"] == 300].iloc[0]
    assert (first["later"], first["earlier"]) == (5, 0)


def test_mantel_by_brute_force_and_the_same_under_any_number_of_threads(small):
    xy, t = small
    xy = xy + np.random.default_rng(1).uniform(0, 1, size=xy.shape)  # no two events at one place
    i, j = np.tril_indices(len(t), k=-1)
    space = (np.hypot(*(xy[i] - xy[j]).T) + 1.0) ** -1.0
    one = st.mantel(xy, t, permutations=9, seed=4, workers=1)
    assert one["stat"] == pytest.approx(pearsonr((np.abs(t[i] - t[j]) + 1.0) ** -1.0, space)[0], rel=1e-12)
    assert st.mantel(xy, t, permutations=9, seed=4, workers=2) == {
        **one,
        "seconds": pytest.approx(one["seconds"], abs=60),
    }
    manhattan = st.mantel(xy, t, permutations=0, metric="manhattan")
    space = (np.abs(xy[i] - xy[j]).sum(1) + 1.0) ** -1.0
    assert manhattan["stat"] == pytest.approx(
        pearsonr((np.abs(t[i] - t[j]) + 1.0) ** -1.0, space)[0], rel=1e-12
    )


def test_jacquez_and_modified_knox_by_brute_force(small):
    xy, t = small
    xy = xy + np.random.default_rng(2).uniform(0, 1, size=xy.shape)
    t = t + np.random.default_rng(3).uniform(0, 0.5, size=t.shape)  # no ties: the k nearest are unique
    n, k = len(t), 4
    d = np.hypot(*(xy[:, None] - xy[None]).transpose(2, 0, 1))
    dt = np.abs(t[:, None] - t[None])
    np.fill_diagonal(d, np.inf)
    np.fill_diagonal(dt, np.inf)
    shared = sum(len(set(np.argsort(d[i])[:k]) & set(np.argsort(dt[i])[:k])) for i in range(n))
    assert st.jacquez(xy, t, k=k, permutations=0)["stat"] == shared
    near, soon = d <= 100, dt <= 3
    nst = sum(1 for a, b in itertools.combinations(range(n), 2) if near[a, b] and soon[a, b])
    stat = nst - (near.sum(1) * soon.sum(1)).sum() / (2 * (n - 1))
    assert st.modified_knox(xy, t, delta=100, tau=3, permutations=0)["stat"] == pytest.approx(stat, rel=1e-12)


def test_bad_input_is_refused(small):
    xy, t = small
    with pytest.raises(ValueError, match="k must be"):
        st.jacquez(xy, t, k=0)
    with pytest.raises(ValueError, match=">= 0"):
        st.local_knox(xy, t, delta=-1, tau=3)
    with pytest.raises(ValueError, match="not finite"):
        st.mantel(xy, t, permutations=0, scon=0.0, spow=-1.0)  # two events at one place: 1 / 0
    with pytest.raises(ValueError, match="distance must be"):
        st.modified_knox(xy, t, delta=1, tau=1, metric="chebyshev")


def test_the_cli_runs_each_test_on_a_csv(tmp_path):
    import json

    from typer.testing import CliRunner

    from casegraph.cli import app

    rng = np.random.default_rng(9)
    xy = np.vstack(
        [rng.uniform(0, 5000, size=(150, 2)), np.array([2000.0, 2000.0]) + rng.uniform(0, 50, size=(8, 2))]
    )
    dates = pd.Timestamp("2024-01-01") + pd.to_timedelta(
        np.concatenate([rng.integers(0, 120, 150), 40 + np.arange(8)]), unit="D"
    )
    path = tmp_path / "points.csv"
    pd.DataFrame({"east": xy[:, 0], "north": xy[:, 1], "when": dates}).to_csv(path, index=False)
    cols = ["--x", "east", "--y", "north", "--date", "when", "--perms", "19"]
    runner = CliRunner()
    results = {}
    for verb, extra in (
        ("local-knox", ["--space", "100"]),
        ("modified-knox", []),
        ("jacquez", ["--k", "4"]),
        ("mantel", []),
    ):
        res = runner.invoke(app, ["--json", "trends", verb, str(path), *cols, *extra])
        assert res.exit_code == 0, res.output
        results[verb] = json.loads(res.stdout)
        assert results[verb]["n"] == 158
    local = results["local-knox"]
    # the planted burst (the file's lines 151-158, from 2024-02-10) is one chain
    chain = {c["chain"] for c in local["chain_events"] if c["row"] == 151}
    burst = [c for c in local["chain_summary"] if c["chain"] in chain]
    assert len(burst) == 1 and burst[0]["first"] == "2024-02-10" and burst[0]["events"] >= 8
    assert results["jacquez"]["k"] == 4 and 0 < results["mantel"]["p_sim"] <= 1
    text = runner.invoke(app, ["trends", "local-knox", str(path), *cols, "--space", "100"]).stdout
    assert "largest chains" in text
    bad = runner.invoke(app, ["trends", "jacquez", str(path), *cols, "--k", "0"])
    assert bad.exit_code != 0 and "k must be" in bad.output
