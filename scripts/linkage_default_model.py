"""Train the linkage model shipped with casegraph (casegraph/linkage/default_model.json).

    .venv/bin/python scripts/linkage_default_model.py [--incidents 8000] [--seed 101]

A synthetic city with complete ground truth (series), every comparison recorded; labelled candidate pairs as
`link` draws them; each feature hidden (missing) in a quarter of a second copy of the pairs so the model
reads an unrecorded field as missing. Prints the model card it stores.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from casegraph.linkage.evaluate import _row_keys

from casegraph import ingest
from casegraph.demo import make_city
from casegraph.linkage import default
from casegraph.linkage.datasets import read_truth
from casegraph.linkage.neighbours import FALLBACK
from casegraph.linkage.stage import blocked, encode_incidents, scales_of
from casegraph.linkage.training import make_model, training_set
from casegraph.settings import load_settings
from casegraph.store import open_store

ALWAYS = {"days_apart", "same_offence"}  # an incident always has a time and an offence


def hidden_copy(X: np.ndarray, names: list[str], rng: np.random.Generator) -> np.ndarray:
    copy = X.copy()
    for k, name in enumerate(names):
        if name not in ALWAYS:
            copy[rng.random(len(X)) < 0.25, k] = np.nan
    return copy


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--incidents", type=int, default=8000)
    parser.add_argument("--seed", type=int, default=101)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        city = Path(tmp) / "city"
        make_city(city, n_incidents=args.incidents, seed=args.seed)
        settings = load_settings()
        settings.store.path = str(Path(tmp) / "city.duckdb")
        store = open_store(settings)
        ingest.run(store, settings, city / "incidents.csv", table="incidents")
        s = settings.linkage
        run_id = store.new_run("linkage_default", s.model_dump(), settings.user.id)
        index, _, comparisons = encode_incidents(store, run_id, s)
        keys = _row_keys(index, read_truth(city).keys).rename(columns={"key": "offender"})
        scales = scales_of(index, keys, FALLBACK, s)
        ctx, cands = blocked(store, run_id, index, comparisons, s, scales)
        data = training_set(ctx, keys, cands)
        store.close()
    names = [c.name for c in comparisons]
    X = np.vstack([data.X, hidden_copy(data.X, names, np.random.default_rng(args.seed))])
    y, groups = np.concatenate([data.y, data.y]), np.concatenate([data.groups, data.groups])
    model = make_model("boosted", comparisons, s.random_state, s.cv_folds).fit(X, y, groups)
    card = {
        "trained_on": f"synthetic city, {args.incidents} incidents (seed {args.seed}), linked = same series",
        "trained_at": datetime.now(UTC).date().isoformat(),
        "n_pairs": len(y),
        "n_linked": int(y.sum()),
        "cv_scores": model.cv_scores_,
        "calibration": model.calibration_,
        "licences": "synthetic data only: Porter's set is GPL-3, the Israeli set's coordinates are not metres",
    }
    out = Path(default.__file__).with_name(default.RESOURCE)
    out.write_text(default.dumps(model, comparisons, scales, card))
    print(json.dumps(card, indent=1))
    print(f"written {out}")


if __name__ == "__main__":
    main()
