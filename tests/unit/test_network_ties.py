"""Group-tie statistics against hand-computed cases: the configuration null's expectation, its Poisson tail,
the permutation null agreeing with it, Benjamini-Hochberg, associates, the people-per-side rule."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from casegraph.network.graphs import NO_GROUP, build_graph, edges_from_pairs, project_affiliation
from casegraph.network.matching import (
    draw_matching,
    matched_counts,
    mixed_pairs_law,
    separate_compact,
    separate_groups,
    shuffled,
)
from casegraph.network.ties import (
    TieParams,
    benjamini_hochberg,
    bh_threshold,
    blocks_of,
    configuration_expected,
    group_ties,
    permutation_null,
    poisson_upper,
    stubs_of,
)


def graph(pairs: list[tuple[str, str]], groups: dict[str, str | None]):
    names = sorted(groups)
    frame = pd.DataFrame(pairs, columns=["s", "t"])
    edges = edges_from_pairs(names, frame["s"], frame["t"])
    return build_graph(
        np.array(names, dtype=object), np.array([groups[n] for n in names], dtype=object), edges
    )


# a1-a2-a3 and b1-b2 are cohesive; a1-b1 and a2-b2 cross; a3-x and b2-x go to a person with no group;
# x-y joins two people with no group (no information about groups).
PAIRS = [
    ("a1", "a2"),
    ("a2", "a3"),
    ("a1", "a3"),
    ("b1", "b2"),
    ("a1", "b1"),
    ("a2", "b2"),
    ("a3", "x"),
    ("b2", "x"),
    ("x", "y"),
]
GROUPS = {"a1": "A", "a2": "A", "a3": "A", "b1": "B", "b2": "B", "x": None, "y": None}


def test_outside_stubs_by_hand():
    pg = graph(PAIRS, GROUPS)
    stubs = stubs_of(pg)
    # Outside ties: a1-b1, a2-b2, a3-x, b2-x, x-y (internal ones are kept fixed by the null).
    assert int(stubs.outside.sum()) == 5
    assert stubs.per_group.tolist() == [3, 3, 4]  # A: a1, a2, a3 ends; B: b1, b2, b2; none: x, x, x, y
    assert stubs.total == 10
    assert int(stubs.cross.sum()) == 2


def matchings(items: list[int]):
    """Every perfect matching of an even list."""
    if not items:
        yield []
        return
    for i in range(1, len(items)):
        for rest in matchings(items[1:i] + items[i + 1 :]):
            yield [(items[0], items[i]), *rest]


def test_configuration_expectation_and_poisson_tail_by_hand():
    x = np.array([3, 3, 4])
    expected = configuration_expected(x, 10, np.array([0]), np.array([1]))
    # w_A = w_B = a, w_none = c: a (a + c) = 3 and c (2a + c) = 4 give a^2 = sqrt(13) - 2.
    assert expected[0] == pytest.approx(np.sqrt(13) - 2)
    # Exact mean over the 450 matchings of the 10 stubs with no A-A and no B-B pair: 1.56 (the
    # unconstrained X_A X_B / (S - 1) = 1 would be 36 % low).
    labels = "AAABBBkkkk"
    valid = [
        m for m in matchings(list(range(10))) if all(labels[i] != labels[j] or labels[i] == "k" for i, j in m)
    ]
    exact = np.mean([sum({labels[i], labels[j]} == {"A", "B"} for i, j in m) for m in valid])
    assert len(valid) == 450 and exact == pytest.approx(1.56)
    assert expected[0] == pytest.approx(exact, rel=0.05)
    assert poisson_upper(np.array([2]), expected)[0] == pytest.approx(1 - stats.poisson.cdf(1, expected[0]))
    assert poisson_upper(np.array([0]), expected)[0] == 1.0


def test_no_random_matching_pairs_two_stubs_of_one_group():
    labels = np.array([0] * 40 + [1] * 30 + [2] * 30, dtype=np.int16)  # k = 2: label 2 = no group
    rng = np.random.default_rng(3)
    for _ in range(20):
        rng.shuffle(labels)
        separate_groups(labels, 2, rng)
        x, y = labels[0::2], labels[1::2]
        assert not ((x == y) & (x < 2)).any()
    assert np.bincount(labels).tolist() == [40, 30, 30]


def test_permutation_mean_matches_the_configuration_expectation():
    rng = np.random.default_rng(0)
    n = 400
    groups = {f"p{i}": (None if i % 4 == 3 else "ABC"[i % 3]) for i in range(n)}
    pairs = list({tuple(sorted((f"p{a}", f"p{b}"))) for a, b in rng.integers(0, n, (1500, 2)) if a != b})
    pg = graph(pairs, groups)
    stubs = stubs_of(pg)
    codes = np.unique(stubs.codes())
    a, b = codes // stubs.k, codes % stubs.k
    expected = configuration_expected(stubs.per_group, stubs.total, a, b)
    mean, _ = permutation_null(stubs, codes, np.zeros(len(codes)), 2000, np.random.default_rng(1))
    assert mean == pytest.approx(expected, rel=0.03)


def test_mixed_pairs_law_by_enumeration():
    # 5 labelled and 3 unlabelled stubs: count the labelled-unlabelled pairs of all 105 matchings.
    kinds = "LLLLLUUU"
    found = np.bincount([sum(kinds[i] != kinds[j] for i, j in m) for m in matchings(list(range(8)))])
    js, cdf = mixed_pairs_law(5, 3)
    assert js.tolist() == [1, 3]
    assert np.diff(cdf, prepend=0).tolist() == pytest.approx((found[js] / found.sum()).tolist())


def test_compact_matching_draws_what_the_shuffled_list_draws():
    # Big groups make many same-group pairs to re-deal; the compact draw (labelled stubs only) must give the
    # same law of cross-group counts as shuffling the whole list (separate_groups on it).
    labels = np.array([0] * 12 + [1] * 8 + [2] * 6 + [3] * 10, dtype=np.int16)  # k = 3: label 3 = no group
    codes, n = np.array([1, 2, 5]), 4000
    rng = np.random.default_rng(5)
    whole = []
    for _ in range(n):
        rng.shuffle(labels)
        separate_groups(labels, 3, rng)
        whole.append(matched_counts(labels[0::2], labels[1::2], 3, codes))
    labelled = labels[labels < 3]
    compact = []
    for _ in range(n):
        m = separate_compact(draw_matching(labelled, 3, mixed_pairs_law(26, 10), 10, rng), 3, rng)
        assert not ((m.x == m.y) & (m.x < 3)).any() and 2 * (len(m.x) + m.unlabelled_pairs) == 36
        assert np.bincount(np.concatenate([m.x, m.y]), minlength=4)[:3].tolist() == [12, 8, 6]
        compact.append(matched_counts(m.x, m.y, 3, codes))
    whole, compact = np.array(whole), np.array(compact)
    assert compact.mean(axis=0) == pytest.approx(whole.mean(axis=0), abs=0.06)  # about 4 standard errors
    for c in range(3):  # and the whole law of each count
        table = np.array([np.bincount(whole[:, c], minlength=12), np.bincount(compact[:, c], minlength=12)])
        table = table[:, table.sum(axis=0) > 0]
        assert stats.chi2_contingency(table).pvalue > 0.001


def test_shuffled_keeps_the_labels_and_moves_them():
    labels = np.repeat(np.arange(50, dtype=np.int16), 20)
    got = shuffled(labels, np.random.default_rng(2))
    assert np.array_equal(np.sort(got), labels) and not np.array_equal(got, labels)
    first = [shuffled(np.arange(4, dtype=np.int16), np.random.default_rng(s))[0] for s in range(2000)]
    assert stats.chisquare(np.bincount(first, minlength=4)).pvalue > 0.001  # each label first as often


def test_benjamini_hochberg_by_hand():
    p = np.array([0.01, 0.04, 0.03])
    # m = 5 tests (two pairs with no cross tie have p = 1): q(0.01) = 0.05, q(0.03) = q(0.04) = 0.0667.
    q = benjamini_hochberg(p, 5)
    assert q.tolist() == pytest.approx([0.05, 0.2 / 3, 0.2 / 3])
    assert bh_threshold(q, 0.05, 5) == pytest.approx(0.01)
    assert bh_threshold(q, 0.01, 5) == 0.0


def test_associates_join_the_block_of_the_group_they_are_mostly_tied_to():
    groups = {"a1": "A", "a2": "A", "a3": "A", "b1": "B", "u": None, "w": None}
    pairs = [("u", "a1"), ("u", "a2"), ("u", "b1"), ("w", "a1"), ("w", "b1")]
    pg = graph(pairs, groups)
    block = blocks_of(pg, min_ties=2)
    names = list(pg.names)
    assert pg.groups[block[names.index("u")]] == "A"  # two of three ties to A
    assert block[names.index("w")] == NO_GROUP  # one each: no majority
    stubs = stubs_of(pg, block)
    # u-a1 and u-a2 are inside A's block now, so only u-b1, w-a1 and w-b1 are outside ties.
    assert int(stubs.outside.sum()) == 3


def test_a_tie_resting_on_one_person_is_not_significant():
    groups = {
        **{f"a{i}": "A" for i in range(6)},
        **{f"b{i}": "B" for i in range(6)},
        **{f"n{i}": None for i in range(40)},
    }
    star = [("a0", f"b{i}") for i in range(6)]  # one person of A tied to all of B
    background = [(f"n{i}", f"n{i + 1}") for i in range(39)] + [("a1", "n0"), ("b1", "n5")]
    ties, _ = group_ties(graph(star + background, groups), TieParams(n_permutations=0))
    row = ties.iloc[0]
    assert (row["persons_a"], row["persons_b"]) == (1, 6)
    assert row["p_value"] < 0.001 and not row["significant"]
    wider = [*star, ("a2", "b3"), ("a3", "b4")]
    ties, _ = group_ties(graph(wider + background, groups), TieParams(n_permutations=0))
    assert bool(ties.iloc[0]["significant"])


def test_projection_weights_and_collapse():
    pairs = project_affiliation(
        pd.Series(["p", "q", "r", "p", "q"]),
        pd.Series(["e1", "e1", "e1", "e2", "e2"]),
        pd.Series([10.0, 10.0, 10.0, 20.0, 20.0]),
    )
    edges = edges_from_pairs(
        ["p", "q", "r"], pairs["source"], pairs["target"], pairs["weight"], pairs["first_day"]
    )
    pq = edges[(edges["a"] == 0) & (edges["b"] == 1)].iloc[0]
    # e1 has three people (weight 1/2 each pair), e2 two (weight 1): p-q share both.
    assert pq["weight"] == pytest.approx(1.5) and pq["n_events"] == 2 and pq["first_day"] == 10.0
    assert len(edges) == 3


def test_the_permutation_null_gives_the_p_value_when_asked():
    groups = {
        **{f"a{i}": "A" for i in range(6)},
        **{f"b{i}": "B" for i in range(6)},
        **{f"n{i}": None for i in range(60)},
    }
    pairs = [(f"a{i}", f"b{i}") for i in range(4)] + [(f"n{i}", f"n{i + 1}") for i in range(59)]
    pairs += [("a5", "n0"), ("b5", "n9")]
    pg = graph(pairs, groups)
    conf, _ = group_ties(pg, TieParams(n_permutations=199))
    perm, summary = group_ties(pg, TieParams(n_permutations=199, null_model="permutation"))
    assert perm.iloc[0]["p_value"] == perm.iloc[0]["p_permutation"] == conf.iloc[0]["p_permutation"]
    assert conf.iloc[0]["p_value"] == conf.iloc[0]["p_configuration"]
    # Four A-B ties where about 0.2 are expected: no random matching of 199 reaches four.
    assert perm.iloc[0]["p_permutation"] == pytest.approx(1 / 200)
    assert summary["smallest_permutation_p"] == pytest.approx(1 / 200)
