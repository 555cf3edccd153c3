"""The pair models follow scikit-learn's estimator contract and explain every score exactly."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.utils.estimator_checks import parametrize_with_checks

from casegraph.linkage.model import AveragedModel, BayesFactorModel, BoostedModel, LinkModel

ESTIMATORS = [
    BayesFactorModel(),
    BoostedModel(max_iter=20),
    AveragedModel(estimators=[BayesFactorModel(), BoostedModel(max_iter=20)]),
    LinkModel(estimator=BayesFactorModel(), cv=2),
]


@parametrize_with_checks(ESTIMATORS)
def test_sklearn_contract(estimator, check):
    check(estimator)


def _data(n: int = 3000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 4))
    X[rng.random((n, 4)) < 0.1] = np.nan
    X[:, 3] = np.round(X[:, 3])
    y = (np.nan_to_num(X[:, 0]) + 0.5 * np.nan_to_num(X[:, 1]) ** 2 + rng.normal(size=n) > 1).astype(int)
    return X, y


@pytest.mark.parametrize(
    "model", [BayesFactorModel(), BoostedModel(), AveragedModel(), LinkModel(estimator=BoostedModel())]
)
def test_explanation_adds_up_to_the_log_odds(model):
    X, y = _data()
    model.fit(X, y)
    explained = model.explain(X[:50])
    total = explained.base + explained.contributions.sum(axis=1) + explained.rest
    np.testing.assert_allclose(total, model.decision_function(X[:50]), atol=1e-9)
    np.testing.assert_allclose(explained.rest, 0.0, atol=1e-9)  # both models are additive


def test_tabulated_boosting_equals_the_trees():
    """The per-feature tables reproduce HistGradientBoosting without interactions, including missing values."""
    X, y = _data()
    ours = BoostedModel(max_iter=50).fit(X, y)
    trees = HistGradientBoostingClassifier(
        max_iter=50,
        learning_rate=0.08,
        max_leaf_nodes=15,
        min_samples_leaf=40,
        l2_regularization=1.0,
        interaction_cst="no_interactions",
        early_stopping=len(y) >= 2000,  # as BoostedModel decides it
        random_state=0,
    ).fit(X, y)
    X_new, _ = _data(1000, seed=1)
    np.testing.assert_allclose(ours.decision_function(X_new), trees.decision_function(X_new), atol=1e-9)


def test_bayes_factor_matches_hand_counts():
    """One binary feature: log BF of a bin = log P(bin | linked) - log P(bin | unlinked), Laplace-smoothed."""
    X = np.array([[0.0]] * 6 + [[1.0]] * 4)
    y = np.array([0, 0, 0, 0, 0, 1, 1, 1, 1, 0])  # bin 0: 5 unlinked 1 linked; bin 1: 3 linked 1 unlinked
    model = BayesFactorModel(n_bins=2).fit(X, y)
    # 3 categories (two bins + missing), alpha = 1: P(bin 1 | linked) = (3 + 1) / (4 + 3), unlinked (1 + 1) / (6 + 3)
    expected = np.log(4 / 7) - np.log(2 / 9)
    assert model.explain(np.array([[1.0]])).contributions[0, 0] == pytest.approx(expected)
    assert model.explain(np.array([[np.nan]])).contributions[0, 0] == pytest.approx(
        np.log(1 / 7) - np.log(1 / 9)
    )


def test_calibration_is_monotone_and_probabilities_are_honest():
    X, y = _data(6000)
    model = LinkModel(estimator=BoostedModel()).fit(X[:4000], y[:4000], groups=np.arange(4000) // 4)
    p = model.predict_proba(X[4000:])[:, 1]
    assert model.slope_ > 0
    # calibrated: predicted mean close to the observed rate on held-out rows
    assert abs(p.mean() - y[4000:].mean()) < 0.03
    assert set(model.cv_scores_) == {"auc", "average_precision"}


def test_averaging_fitted_members_equals_fitting_the_average():
    X, y = _data(4000, seed=3)
    groups = np.arange(len(y)) % 50
    members = [LinkModel(estimator=e, cv=3).fit(X, y, groups) for e in (BayesFactorModel(), BoostedModel())]
    whole = LinkModel(estimator=AveragedModel(estimators=[BayesFactorModel(), BoostedModel()]), cv=3)
    whole.fit(X, y, groups)
    combined = LinkModel.averaged(members, y)
    assert combined.cv_scores_ == pytest.approx(whole.cv_scores_)
    np.testing.assert_allclose(combined.decision_function(X), whole.decision_function(X), rtol=1e-9)
    assert "oof_" not in combined.__getstate__()  # out-of-fold scores are not saved with the model
