"""Training pairs and model choice.

Labels come from solved incidents: two incidents are linked when they share an offender (a person named
by an involvement in an offender role or by an arrest; records are joined to persons through
person_identities when the resolve stage has run, else each record stands for itself). Linked pairs and
sampled unlinked pairs are drawn from the blocked candidates, i.e. from the same population the model will
score. Folds are grouped by co-offending component so no series is on both sides of a fold.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
from scipy.sparse import coo_matrix, csr_matrix, triu
from scipy.sparse.csgraph import connected_components

from casegraph.errors import CasegraphError
from casegraph.linkage import decisions
from casegraph.linkage.blocking import Candidates, configured, threads_of
from casegraph.linkage.candidates import candidate_pairs_sql
from casegraph.linkage.comparisons import Comparison
from casegraph.linkage.features import pair_features
from casegraph.linkage.index import INDEX, IncidentIndex, RunContext, params_for
from casegraph.linkage.model import AveragedModel, BayesFactorModel, BoostedModel, LinkModel
from casegraph.settings import LinkageSettings
from casegraph.store import Store

MODEL_KINDS = ("bayes_factor", "boosted", "averaged")
POPULATION_PAIRS = 300_000


class NoTrainingPairs(CasegraphError):
    """There are too few solved incidents sharing an offender to train a pair model."""


def known_offenders_sql(n_roles: int, with_identities: bool) -> str:
    """(agency, incident_id, record_agency, record_id, offender) for every incident with a known offender.

    Parameters: the roles (positional). The offender is the resolved person when person_identities has the
    record, else the record itself (agency:record_id).
    """
    roles = ", ".join("?" for _ in range(n_roles))
    person = (
        "coalesce(p.person_id, k.agency || ':' || k.record_id)"
        if with_identities
        else ("k.agency || ':' || k.record_id")
    )
    identities = (
        (
            "LEFT JOIN (SELECT agency, record_id, person_id FROM person_identities "
            "QUALIFY row_number() OVER (PARTITION BY agency, record_id ORDER BY run_id DESC) = 1) p "
            "ON p.agency = k.agency AND p.record_id = k.record_id"
        )
        if with_identities
        else ""
    )
    return (
        "SELECT DISTINCT k.agency, k.incident_id, k.agency AS record_agency, k.record_id, "
        f"{person} AS offender FROM (SELECT agency, incident_id, record_id FROM involvements "
        f"WHERE role IN ({roles}) UNION SELECT agency, incident_id, record_id FROM arrests "
        f"WHERE incident_id IS NOT NULL) k {identities}"
    )


def has_identities(store: Store) -> bool:
    return "person_identities" in store.table_names() and store.count("person_identities") > 0


def decided_rows(store: Store, index: IncidentIndex) -> pd.DataFrame:
    """Decisions in force as index rows: i, j, decision (pairs with an incident outside the index left out)."""
    decided = decisions.active(store)
    rows = pd.DataFrame(
        {
            "agency": index.agency.astype(str),
            "incident_id": index.incident_id.astype(str),
            "row": np.arange(len(index)),
        }
    )
    for side in ("a", "b"):
        decided = decided.merge(
            rows.rename(columns={"agency": f"agency_{side}", "incident_id": f"incident_{side}", "row": side}),
            on=[f"agency_{side}", f"incident_{side}"],
        )
    return pd.DataFrame({"i": decided["a"], "j": decided["b"], "decision": decided["decision"]})


def offender_keys(store: Store, run_id: str, roles: list[str]) -> pd.DataFrame:
    """(row_no, offender) for the indexed incidents of a run."""
    known = known_offenders_sql(len(roles), has_identities(store))
    sql = (
        f"SELECT DISTINCT x.row_no, o.offender FROM ({known}) o JOIN {INDEX} x "
        "ON x.agency = o.agency AND x.incident_id = o.incident_id AND x.run_id = ?"
    )
    return store.df(sql, [*roles, run_id])


def incidence(keys: pd.DataFrame, n_rows: int) -> csr_matrix:
    """Incident x offender 0/1 matrix."""
    codes, offenders = pd.factorize(keys["offender"])
    ones = np.ones(len(keys), np.int8)
    return coo_matrix(
        (ones, (keys["row_no"].to_numpy(), codes)), shape=(n_rows, max(1, len(offenders)))
    ).tocsr()


def linked_pairs_of(keys: pd.DataFrame, n_rows: int) -> tuple[np.ndarray, np.ndarray]:
    """Every pair (i < j) of index rows sharing an offender."""
    matrix = incidence(keys, n_rows)
    shared = triu(matrix @ matrix.T, k=1).tocoo()
    return shared.row.astype(np.int64), shared.col.astype(np.int64)


def share_offender(matrix: csr_matrix, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    return np.asarray(matrix[i].multiply(matrix[j]).sum(axis=1)).ravel() > 0


def components(matrix: csr_matrix) -> np.ndarray:
    """Co-offending component of each incident (incidents joined through shared offenders)."""
    n = matrix.shape[0]
    bipartite = coo_matrix(
        (np.ones(matrix.nnz), (matrix.tocoo().row, matrix.tocoo().col + n)), shape=(n + matrix.shape[1],) * 2
    )
    return connected_components(bipartite, directed=False)[1][:n]


@dataclass
class TrainingSet:
    i: np.ndarray
    j: np.ndarray
    y: np.ndarray
    groups: np.ndarray
    X: np.ndarray
    n_candidates: int
    n_decisions: int = 0

    def fingerprint(self, index: IncidentIndex) -> str:
        digest = hashlib.sha256()
        for side in (self.i, self.j):
            digest.update(
                "\x1f".join(
                    f"{a}:{b}" for a, b in zip(index.agency[side], index.incident_id[side], strict=True)
                ).encode()
            )
        digest.update(self.y.astype(np.int8).tobytes())
        return digest.hexdigest()


def training_set(ctx: RunContext, keys: pd.DataFrame, candidates: Candidates) -> TrainingSet:
    """Linked and sampled unlinked candidate pairs among incidents with a known offender, with features."""
    if keys.empty:
        raise NoTrainingPairs(
            f"none of the {len(ctx.index)} incidents is solved: linkage needs solved incidents that share "
            "offenders (involvements in an offender role, or arrests for an incident) to learn from"
        )
    matrix = incidence(keys, len(ctx.index))
    solved = np.unique(keys["row_no"].to_numpy()).astype(np.int64)
    pairs = candidates.within(solved)
    i, j = pairs.arrays()
    y = share_offender(matrix, i, j) if len(i) else np.zeros(0, bool)
    keep = sample_pairs(y, ctx.settings)
    if y[keep].sum() < 5 or (~y[keep]).sum() < 5:
        raise NoTrainingPairs(
            f"only {int(y.sum())} linked and {int((~y).sum())} unlinked candidate pairs among "
            f"{len(solved)} solved incidents: linkage needs solved incidents that share offenders "
            "(involvements in an offender role, or arrests for an incident)"
        )
    i, j, y = i[keep], j[keep], y[keep]
    X = pair_features(ctx.index.encoded, i, ctx.index.encoded, j, ctx.comparisons)
    return TrainingSet(i, j, y, components(matrix)[i], X, len(pairs))


def with_decided(ctx: RunContext, data: TrainingSet, decided: pd.DataFrame) -> TrainingSet:
    """Analysts' decisions as labels: a decided pair's label replaces the offender-based one, or is added."""
    if decided.empty:
        return data
    n = len(ctx.index)
    di, dj = decided["i"].to_numpy(np.int64), decided["j"].to_numpy(np.int64)
    keys = np.minimum(di, dj) * n + np.maximum(di, dj)
    stale = np.isin(np.minimum(data.i, data.j) * n + np.maximum(data.i, data.j), keys)
    X = pair_features(ctx.index.encoded, di, ctx.index.encoded, dj, ctx.comparisons)
    groups = data.groups.max(initial=0) + 1 + np.arange(len(di))  # each decided pair its own fold group
    keep = ~stale
    return TrainingSet(
        np.concatenate([data.i[keep], di]),
        np.concatenate([data.j[keep], dj]),
        np.concatenate([data.y[keep], (decided["decision"] == "linked").to_numpy()]),
        np.concatenate([data.groups[keep], groups]),
        np.vstack([data.X[keep], X]),
        data.n_candidates,
        n_decisions=len(di),
    )


def sample_pairs(y: np.ndarray, settings: LinkageSettings) -> np.ndarray:
    """All linked pairs (up to the cap) and about `negatives_per_linked` unlinked pairs for each."""
    rng = np.random.default_rng(settings.random_state)
    linked, unlinked = np.flatnonzero(y), np.flatnonzero(~y)
    ratio = settings.negatives_per_linked
    n_linked = min(len(linked), int(settings.max_training_pairs / (1 + ratio)))
    n_unlinked = min(len(unlinked), max(round(n_linked * ratio), 0), settings.max_training_pairs - n_linked)
    chosen = [rng.choice(linked, n_linked, replace=False), rng.choice(unlinked, n_unlinked, replace=False)]
    return np.sort(np.concatenate(chosen))


def population_sample(ctx: RunContext, rows: np.ndarray) -> np.ndarray:
    """Features of the pairs of some incidents, solved or not, with the incidents of their configured window
    (same family, max_gap_days, max_distance_m): the reference population whose linked share calibrates the
    probabilities. It is the same whatever the blocking passes add (far neighbours, all pairs of a small
    store), so a pair's probability does not fall because more unlikely pairs were compared."""
    window = configured(ctx.settings)
    with ctx.store.registered("_tmp_linkage_population", pa.table({"row_no": rows})) as name:
        sql = candidate_pairs_sql(INDEX, window, left=name, ordered=False)
        pairs = ctx.store.arrow(sql, params_for(sql, {"run": ctx.run_id, **window.params()}))
    i, j = (pairs.column(c).to_numpy().astype(np.int64) for c in ("i", "j"))
    if len(i) > POPULATION_PAIRS:
        rng = np.random.default_rng(ctx.settings.random_state)
        keep = np.sort(rng.choice(len(i), POPULATION_PAIRS, replace=False))
        i, j = i[keep], j[keep]
    return pair_features(ctx.index.encoded, i, ctx.index.encoded, j, ctx.comparisons)


def make_model(
    kind: str, comparisons: tuple[Comparison, ...], random_state: int, cv: int, n_jobs: int = 1
) -> LinkModel:
    monotonic = [c.direction for c in comparisons]
    boosted = BoostedModel(monotonic=monotonic, random_state=random_state)
    inner: Any = {
        "bayes_factor": BayesFactorModel(),
        "boosted": boosted,
        "averaged": AveragedModel(estimators=[BayesFactorModel(), boosted]),
    }[kind]
    return LinkModel(estimator=inner, cv=cv, random_state=random_state, n_jobs=n_jobs)


def fit_models(
    data: TrainingSet, comparisons: tuple[Comparison, ...], settings: LinkageSettings
) -> tuple[str, dict[str, LinkModel]]:
    """Fit every candidate model kind (or the one the settings force); choose by out-of-fold average precision."""
    kinds = MODEL_KINDS if settings.model == "auto" else (settings.model,)
    members = ("bayes_factor", "boosted")
    fitted = {
        k: make_model(k, comparisons, settings.random_state, settings.cv_folds, threads_of(settings)).fit(
            data.X, data.y, data.groups
        )
        for k in members
        if k in kinds or "averaged" in kinds
    }
    if "averaged" in kinds:  # the mean of the two members, fitted once (same pairs, same folds)
        fitted["averaged"] = LinkModel.averaged([fitted[k] for k in members], data.y)
    fitted = {k: fitted[k] for k in kinds}
    best = max(kinds, key=lambda k: (fitted[k].cv_scores_["average_precision"], fitted[k].cv_scores_["auc"]))
    return best, fitted
