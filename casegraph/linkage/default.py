"""The model shipped with casegraph, for an agency with too few solved incidents to train its own.

It is a calibrated tabulated pair model (model.LinkModel over model.BoostedModel) trained by
`scripts/build-linkage-default-model` on the synthetic city, whose ground truth is complete. The real
solved-crime sets are not in it: Porter's simulated data are GPL-3 (not to be shipped inside an Apache-2.0
package), and the Israeli burglaries (BSD-style) have coordinates in min-max-scaled units rather than metres
and no modus operandi, so they would teach a wrong distance scale. While it was trained, every feature group
was hidden (set missing) in a share of the pairs, so a field an agency does not record counts as "not
recorded", not as "different". It is stored as plain numbers (JSON), not as a pickle, so it loads under any
scikit-learn version. The run uses it when the agency's own model does not do better on the agency's own
labelled pairs (see stage.choose_model).
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

import numpy as np

from casegraph.linkage.comparisons import BY_NAME, Comparison
from casegraph.linkage.model import BoostedModel, Explanation, LinkModel
from casegraph.linkage.neighbours import Scales

RESOURCE = "default_model.json"
DEFAULT_KIND = "default"


def dumps(model: LinkModel, comparisons: tuple[Comparison, ...], scales: Scales, card: dict[str, Any]) -> str:
    inner = model.estimator_
    return json.dumps(
        {
            "features": [c.name for c in comparisons],
            "scales": {"metres": scales.metres, "days": scales.days},
            "calibration": {
                "slope": model.slope_,
                "intercept": model.intercept_,
                "prior": model.prior_,
                "training_prior": model.training_prior_,
            },
            "cv_scores": model.cv_scores_,
            "base": inner.base_,
            "edges": [e.tolist() for e in inner.edges_],
            "tables": [t.tolist() for t in inner.tables_],
            "card": card,
        }
    )


@cache
def _stored() -> dict[str, Any]:
    return json.loads(resources.files("casegraph.linkage").joinpath(RESOURCE).read_text())


def card() -> dict[str, Any]:
    return dict(_stored()["card"])


def scales() -> Scales:
    s = _stored()["scales"]
    return Scales(float(s["metres"]), float(s["days"]), "shipped model")


def load(comparisons: tuple[Comparison, ...]) -> LinkModel:
    """The shipped model, reading the features of `comparisons` (the agency's recorded ones, in its order)."""
    data = _stored()
    inner = BoostedModel()
    inner.edges_ = [np.asarray(e, float) for e in data["edges"]]
    inner.tables_ = [np.asarray(t, float) for t in data["tables"]]
    inner.base_ = float(data["base"])
    inner.n_features_in_ = len(inner.edges_)
    inner.classes_ = np.array([0, 1])
    outer = LinkModel(estimator=inner)
    calibration = data["calibration"]
    outer.slope_, outer.intercept_ = float(calibration["slope"]), float(calibration["intercept"])
    outer.prior_, outer.training_prior_ = float(calibration["prior"]), float(calibration["training_prior"])
    outer.cv_scores_ = dict(data["cv_scores"])
    outer.classes_ = np.array([0, 1])
    outer.n_features_in_ = len(comparisons)
    positions = [data["features"].index(c.name) if c.name in data["features"] else -1 for c in comparisons]
    outer.estimator_ = Reading(inner, positions)
    return outer


def known_features() -> list[Comparison]:
    return [BY_NAME[name] for name in _stored()["features"]]


class Reading:
    """The shipped tables read through an agency's feature columns: a feature the agency does not record is
    "missing" to the tables, and its (constant) contribution is part of the base of every explanation."""

    def __init__(self, inner: BoostedModel, positions: list[int]) -> None:
        self.inner = inner
        self.positions = np.asarray(positions)

    def _widen(self, X: Any) -> np.ndarray:
        X = np.asarray(X, dtype=float)
        wide = np.full((len(X), self.inner.n_features_in_), np.nan)
        known = self.positions >= 0
        wide[:, self.positions[known]] = X[:, known]
        return wide

    def decision_function(self, X: Any) -> np.ndarray:
        return self.inner.decision_function(self._widen(X))

    def explain(self, X: Any) -> Explanation:
        full = self.inner.explain(self._widen(X))
        known = self.positions >= 0
        mine = np.zeros((len(full.base), len(self.positions)))
        mine[:, known] = full.contributions[:, self.positions[known]]
        unread = np.ones(full.contributions.shape[1], bool)
        unread[self.positions[known]] = False
        base = full.base + full.contributions[:, unread].sum(axis=1)
        return Explanation(base, mine, full.rest)
