"""Settings are data: one validated model, loaded from casegraph.toml, with documented defaults.

Every field carries a description; `tests/contracts/test_docs.py` checks that docs/settings.md lists them all.
Precedence: defaults < casegraph.toml < environment (CASEGRAPH_STORE, CASEGRAPH_ENGINE).
"""

from __future__ import annotations

import os
import tomllib
from datetime import date
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from casegraph.errors import SettingsError


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class StoreSettings(Section):
    path: str = Field(
        "casegraph.duckdb",
        description="Store file (env CASEGRAPH_STORE); with the spark engine, a folder of Parquet tables.",
    )
    key_env: str = Field(
        "CASEGRAPH_KEY",
        description="Environment variable holding the encryption key, if the store is encrypted.",
    )
    key_file: str | None = Field(
        None, description="File holding the encryption key (alternative to key_env)."
    )
    memory_limit: str = Field("8GB", description="DuckDB memory limit.")
    threads: int = Field(2, ge=1, description="DuckDB worker threads.")


class EngineSettings(Section):
    """The one engine every stage runs on (store, SQL, Splink); a stage that cannot run on it says so."""

    name: Literal["duckdb", "spark"] = Field(
        "duckdb",
        description="duckdb (embedded, one machine) or spark (PySpark: tables as Parquet folders; env "
        "CASEGRAPH_ENGINE, or --engine).",
    )
    spark_master: str | None = Field(
        None, description="Spark master URL (default local[N], N = store.threads: local mode)."
    )
    spark_driver_memory: str = Field("2g", description="Spark driver memory (local mode: all of Spark).")
    spark_shuffle_partitions: int = Field(
        8, ge=1, description="Partitions of Spark's joins and aggregations (spark.sql.shuffle.partitions)."
    )
    driver_graph_max_edges: int = Field(
        5_000_000,
        ge=1,
        description="Whole-graph algorithms (Leiden, betweenness) run on the Spark driver: a graph with more "
        "edges than this is refused rather than run out of memory.",
    )


class UserSettings(Section):
    purpose: str = Field("analysis", description="Stated purpose recorded with person-level reads.")


class IngestSettings(Section):
    agency: str | None = Field(
        None,
        description="Agency of the rows of a file that has no agency column, when --agency is not given.",
    )
    batch_rows: int = Field(200_000, ge=1000, description="Rows read per batch when streaming a file.")
    future_tolerance_minutes: int = Field(
        60, ge=0, description="How far in the future a timestamp may lie (clock skew) before it is rejected."
    )
    crs: str = Field(
        "auto",
        description="Projected CRS for x/y derived from lat/lon: 'auto' = the UTM zone of the file's centre, "
        "or an EPSG code such as 'EPSG:26971'.",
    )


class SafeguardSettings(Section):
    min_criteria: int = Field(2, ge=1, description="Criteria a membership claim must meet.")
    minor_age: int = Field(
        18, ge=0, description="Claims about people under this age need a supervisor's approval."
    )
    review_years: int = Field(
        5, ge=1, description="Years after the latest evidence before a claim is due for review."
    )
    accepted_criteria: list[str] = Field(
        default_factory=list,
        description="Membership criteria accepted (empty: every code of the schema's membership_criteria vocabulary).",
    )
    unknown_age_needs_approval: bool = Field(
        True,
        description="A claim about a person whose date of birth is unknown also needs a supervisor's approval.",
    )
    review_notice_days: int = Field(
        90, ge=0, description="`casegraph review` also lists what falls due within this many days."
    )
    audit_anchor_file: str | None = Field(
        None,
        description="File keeping the audit log's head (seq, MAC) and entry count outside the store (default: "
        "<store>.audit-anchor). Put it on other storage, and export copies (`audit anchor --export`).",
    )
    audit_key_env: str = Field(
        "CASEGRAPH_AUDIT_KEY",
        description="Environment variable holding the audit key (used instead of the key file when set and "
        "audit_key_file is not).",
    )
    audit_key_file: str | None = Field(
        None,
        description="File holding the key of the audit log's MACs and anchor signature (default: "
        "<store>.audit-key, made with mode 0600 when the log starts, at `casegraph init`).",
    )
    fairness_band: float = Field(
        0.8,
        gt=0,
        le=1,
        description="A group's rate differs visibly when its ratio to the overall rate is below this or above "
        "its inverse (the four-fifths rule).",
    )
    fairness_min_group: int = Field(
        20, ge=1, description="Groups smaller than this are shown but never flagged."
    )


class ResolveSettings(Section):
    """Identity resolution (stage `resolve`)."""

    match_threshold: float = Field(
        0.9,
        gt=0,
        lt=1,
        description="Match probability at or above which two records are joined into one person.",
    )
    keep_threshold: float = Field(
        0.05,
        gt=0,
        lt=1,
        description="Scored pairs below this probability are not kept (review, explain, recluster).",
    )
    review_low: float = Field(0.2, gt=0, lt=1, description="Lower probability bound of the review queue.")
    review_high: float = Field(0.97, gt=0, lt=1, description="Upper probability bound of the review queue.")
    blocking_rules: list[str] = Field(
        default_factory=lambda: [
            "l.family = r.family AND l.given = r.given",
            "l.dob = r.dob AND substr(l.family, 1, 1) = substr(r.family, 1, 1)",
            "l.dob = r.dob AND l.given_initial = r.given_initial",
            "l.family = r.family AND l.dob_year = r.dob_year AND l.given_initial = r.given_initial",
            "l.family = r.family AND l.given_nicknames = r.given_nicknames",
            "l.given = r.family AND l.family = r.given",
            "l.given = r.family AND l.dob = r.dob",
            "l.family = r.given AND l.dob = r.dob",
            "l.id_number = r.id_number",
            "l.phone = r.phone",
            "l.address = r.address AND l.given_code = r.given_code",
            "l.address = r.address AND l.dob = r.dob",
            "l.family = r.family AND l.address = r.address",
            "l.postcode = r.postcode AND l.dob_year = r.dob_year AND l.given_initial = r.given_initial",
        ],
        description="Blocking rules (SQL over prepared columns, l. and r.): pairs found by any rule are scored. "
        "Columns: given, given_code (NYSIIS), given_initial, given_nicknames, family, family_code, middle, alias, "
        "dob, dob_year, dob_text, sex, address, postcode, phone, id_number. A rule naming an array column "
        "(given_nicknames: the name with its nicknames; alias) matches on any shared element.",
    )
    training_rules: list[str] = Field(
        default_factory=lambda: ["l.dob = r.dob", "l.family = r.family AND l.given = r.given"],
        description="Blocking rules for expectation maximisation of the m probabilities (one session each).",
    )
    deterministic_rules: list[str] = Field(
        default_factory=lambda: [
            "l.family = r.family AND l.given = r.given AND l.dob = r.dob",
            "l.id_number = r.id_number AND l.family = r.family",
        ],
        description="Rules that admit almost no false matches, used to estimate the prior match probability.",
    )
    deterministic_recall: float = Field(
        0.6, gt=0, le=1, description="Assumed share of true matches that the deterministic rules find."
    )
    u_max_pairs: float = Field(2e6, ge=1e4, description="Random pairs sampled to estimate u probabilities.")
    em_max_pairs: float | None = Field(
        5e6, description="Cap on blocked pairs per EM session (None: all pairs of the training rule)."
    )
    min_labels: int = Field(
        30,
        ge=1,
        description="Accepted analyst decisions needed before they are used to estimate m (clerical labels).",
    )
    cross_agency_only: bool = Field(
        False,
        description="Score only pairs from different agencies (linking sources that hold no duplicates).",
    )
    seed: int = Field(42, description="Seed for u sampling, so a run is reproducible.")
    update_max_share: float = Field(
        0.25,
        gt=0,
        description="`update` resolves new records with the last model while they are at most this share "
        "of the resolved ones; beyond it, a full run (the model retrained).",
    )


class LinkageSettings(Section):
    """Crime linkage (stage `linkage`)."""

    all_pairs_up_to: int = Field(
        2_000_000,
        ge=0,
        description="Compare every pair of incidents when there are at most this many pairs (seconds of "
        "scoring): blocking only saves time, so where there is none to save it loses no link.",
    )
    neighbours: int = Field(
        50,
        ge=0,
        description="Blocking: each incident's k nearest incidents in space and time (axes scaled by the "
        "median distance and time between linked incidents), within its offence family and across families.",
    )
    max_gap_days: float = Field(
        45.0,
        ge=0,
        description="Blocking window: largest gap in days between two time windows (0 = no limit).",
    )
    max_distance_m: float = Field(
        3000.0,
        ge=0,
        description="Blocking window: largest distance in metres (x/y) (0 = no limit).",
    )
    same_family: bool = Field(True, description="Blocking window: only incidents of the same offence family.")
    max_candidates_per_incident: int = Field(
        150,
        ge=10,
        description="Candidates one incident may name: 2 x neighbours, the rest for the window, whose gap and "
        "distance shrink together where incidents are denser (the run summary reports the limits used).",
    )
    threads: int = Field(
        0,
        ge=0,
        description="Threads for the neighbour search, the model fits of cross-validation and pair scoring (0 = one per core).",
    )
    features: list[str] = Field(
        default_factory=list,
        description="Pair features to use (empty = all; see `casegraph eval linkage` docs).",
    )
    text_dims: int = Field(
        32, ge=1, le=256, description="Dimensions of the narrative text space (TF-IDF + LSA)."
    )
    model: Literal["auto", "boosted", "bayes_factor", "averaged"] = Field(
        "averaged",
        description="Pair model: averaged = the mean of the Bayes-factor and boosted models' log-odds; auto = "
        "the one of the three with the best grouped cross-validated average precision. Averaging ranks held-out "
        "series better than choosing among near-equal models on noisy cross-validation (measured on the "
        "training splits of the Israeli and Porter solved crimes).",
    )
    cv_folds: int = Field(
        3, ge=2, le=10, description="Cross-validation folds (grouped by co-offending component)."
    )
    offender_roles: list[str] = Field(
        default_factory=lambda: ["offender", "suspect", "arrestee"],
        description="Involvement roles that make a person an incident's offender for training (arrests always do).",
    )
    receiver_min_offenders: int = Field(
        3,
        ge=1,
        description="Attribution: a person who sold or held stolen items from incidents of at least this many other "
        "known offenders is a receiver (a fence): listed with the items, not taken for the incidents' offender.",
    )
    negatives_per_linked: float = Field(
        20.0, gt=0, description="Unlinked candidate pairs sampled per linked pair when training."
    )
    max_training_pairs: int = Field(400_000, ge=1000, description="Cap on training pairs (sampled).")
    link_threshold: float = Field(
        0.3, ge=0, le=1, description="Pairs scored at or above this probability are stored in incident_links."
    )
    series_threshold: float = Field(
        0.5,
        ge=0,
        le=1,
        description="Links at or above this probability form the graph clustered into series.",
    )
    series_resolution: float = Field(
        0.1, gt=0, le=1, description="Leiden CPM resolution: the least link density a series must keep."
    )
    random_state: int = Field(0, description="Seed for sampling, cross-validation and models.")
    update_max_share: float = Field(
        0.25,
        gt=0,
        description="`update` links new incidents into the last run while they are at most this share of "
        "the linked ones; beyond it, a full run (new model, new plan).",
    )


class NetworkSettings(Section):
    """Person and group networks (stage `network`)."""

    offender_roles: list[str] = Field(
        default_factory=lambda: ["suspect", "arrestee", "offender"],
        description="Involvement roles that make two people in one incident co-offenders.",
    )
    use_series: bool = Field(
        True,
        description="Tie people who offended in different incidents of one linkage series (kind co_series).",
    )
    series_max_size: int = Field(
        25, ge=2, description="Larger linkage series are not taken as evidence of ties."
    )
    address_ties: bool = Field(True, description="Tie different people whose records give the same address.")
    address_max_persons: int = Field(
        6, ge=2, description="An address shared by more people (a hostel, a shelter) ties nobody."
    )
    max_event_persons: int = Field(
        30, ge=2, description="Events (incidents, meetings) with more people than this make no person ties."
    )
    evidence_per_tie: int = Field(50, ge=1, description="Evidence ids kept on one tie row (all are counted).")
    null_model: Literal["configuration", "permutation"] = Field(
        "configuration",
        description="p-value of a group tie: 'configuration' = Poisson tail of the configuration model that "
        "keeps each person's ties outside their group; 'permutation' = the share of permuted graphs at least "
        "as tied (needs n_permutations >= pairs / fdr to reach significance).",
    )
    n_permutations: int = Field(
        99, ge=0, description="Random rewirings of the cross-group ties (check of the null; its p-values)."
    )
    fdr: float = Field(
        0.05, gt=0, lt=1, description="False discovery rate over all group pairs (Benjamini-Hochberg)."
    )
    min_persons_per_side: int = Field(
        2,
        ge=1,
        description="A group tie needs at least this many distinct people on each side to be significant.",
    )
    onset_gap_days: int = Field(
        365,
        ge=1,
        description="A tie's onset is the first evidence of the run (no gap longer than this) that made it "
        "significant; a tie dormant for longer starts again.",
    )
    associate_min_ties: int = Field(
        2,
        ge=0,
        description="The null model counts a person without a recorded group as inside a group's block "
        "(an associate) with at least this many ties to its members, over half of their ties to members "
        "(0 = never). Associates are not labelled members: only the null model uses them, unless "
        "count_associates.",
    )
    count_associates: bool = Field(
        True,
        description="Count ties of associates (see associate_min_ties) as ties of their group, in the "
        "observed count and the null model alike: earlier and more evidence (unclaimed members are common), "
        "but it rests on inferred, not recorded, membership; group_tie_evidence flags every associate.",
    )
    alert_window_days: int = Field(
        730,
        ge=1,
        description="Ties that became significant within this many days of the latest evidence are "
        "alerted as new.",
    )
    baseline_days: int = Field(
        90,
        ge=0,
        description="Ties already significant within this many days of the first evidence are "
        "established, not new.",
    )
    growth_window_days: int = Field(
        90, ge=7, description="Recent window in which a tie's evidence rate may grow."
    )
    growth_p: float = Field(
        0.01, gt=0, lt=1, description="Binomial p-value under which a tie's growth is alerted."
    )
    growth_min_ratio: float = Field(
        2.0, ge=1, description="Least ratio of recent to earlier evidence rate alerted."
    )
    exact_betweenness_max_nodes: int = Field(
        5_000, ge=0, description="Above this many people, betweenness is estimated from sampled sources."
    )
    betweenness_samples: int = Field(
        16, ge=1, description="Source people sampled to estimate betweenness on a large graph."
    )
    leiden_resolution: float = Field(
        1.0, gt=0, description="Resolution of Leiden communities (1 = modularity)."
    )
    leidenalg_max_edges: int = Field(
        250_000,
        ge=0,
        description="Above this many ties, communities use igraph's built-in Leiden (same "
        "algorithm, one iteration, much faster) instead of the leidenalg package (two iterations).",
    )
    max_triangles: int = Field(
        20_000_000,
        ge=0,
        description="Brokerage counts open two-paths only when the graph has at most this many "
        "triangles; above it, all two-paths (said in the summary).",
    )
    background_min_edges: int = Field(
        1_000_000,
        ge=0,
        description="On graphs with at least this many ties, Leiden communities run in a forked process "
        "while the group ties are tested (same result; where the platform can fork).",
    )
    seed: int = Field(7, description="Random seed of permutations, sampling and Leiden.")


class TrendsSettings(Section):
    """Growth monitoring (stage `trends`)."""

    offender_roles: list[str] = Field(
        ["suspect", "arrestee", "offender"],
        description="Roles that link a claimed member's incident to the group (never victim or witness).",
    )
    series_max_size: int = Field(
        100, ge=1, description="Linkage series larger than this are not used to extend a group's incidents."
    )
    area_source: Literal["area", "grid"] = Field(
        "area", description="Areas for spread: incidents.area, or a regular grid of area_grid_m cells."
    )
    area_grid_m: float = Field(2000.0, gt=0, description="Grid cell size (metres) when area_source = grid.")
    baseline_days: int = Field(
        365,
        ge=1,
        description="A group's baseline: this many days from its first evidence; areas seen then are home.",
    )
    baseline_contacts: bool = Field(
        True,
        description="Count members' recorded contacts (meetings, stops) with an area as baseline presence.",
    )
    spread_min_incidents: int = Field(
        2,
        ge=1,
        description="Incidents in a new area (within spread_window_days of the first) that raise an alert.",
    )
    item_city_min_items: int = Field(
        2,
        ge=1,
        description="Distinct stolen items of a group surfacing in a city new to its items that raise an alert.",
    )
    spread_window_days: int = Field(
        60,
        ge=1,
        description="Window after a group's first incident in a new area for the confirming incidents.",
    )
    spread_member_incidents: int = Field(
        1, ge=1, description="Incidents in a new area with a claimed member taking part that raise an alert."
    )
    spread_corroborate: bool = Field(
        True,
        description="A spread alert needs a member's own incident or two linkage series among its incidents.",
    )
    alpha: float = Field(
        0.05, gt=0, lt=1, description="Significance level of trend, growth and hot spot tests."
    )
    growth_min_ratio: float = Field(
        1.5,
        gt=1,
        description="A growth alert needs the recent monthly rate this many times its reference rate.",
    )
    growth_recent_months: int = Field(
        3, ge=1, description="Growth: the recent window (months) tested for a rise."
    )
    growth_reference_months: int = Field(
        12, ge=2, description="Growth: the months before the recent window that set the reference rate."
    )
    growth_min_incidents: int = Field(
        5, ge=1, description="A growth alert needs this many incidents in the recent window."
    )
    changepoint_penalty: float | None = Field(
        None,
        description="PELT penalty per change point (default 2 log n, BIC-like, -2 log-likelihood scale).",
    )
    hotspot_cell_m: float = Field(
        250.0, gt=0, description="Cell size (metres) of the emerging hot spot cube."
    )
    hotspot_distance_m: float | None = Field(
        None,
        description="Gi* neighbourhood: distance between cell centres (default 1.5 cells: the 8 neighbours).",
    )
    hotspot_step: Literal["week", "month"] = Field(
        "month", description="Time step of the emerging hot spot cube."
    )
    hotspot_time_lag: int = Field(
        1, ge=0, description="Previous time steps in the Gi* neighbourhood (ESRI's time step)."
    )
    hotspot_fdr: bool = Field(True, description="Benjamini-Hochberg FDR correction of the Gi* significance.")
    knox_space_bands: list[float] = Field(
        [0.1, 100.0, 200.0, 300.0, 400.0],
        description="Upper edges of the near-repeat distance bands, metres (0.1 = exact repeats).",
    )
    knox_time_bands: list[float] = Field(
        [7.0, 14.0, 21.0], description="Upper edges of the time bands, days."
    )
    knox_closed: Literal["right", "left"] = Field(
        "right", description="Closed side of each band: right = [0,a], (a,b] (as pointpats and Davies)."
    )
    knox_distance: Literal["euclidean", "manhattan"] = Field(
        "euclidean", description="Distance of the near-repeat table: euclidean, or manhattan (as the NRC)."
    )
    knox_permutations: int = Field(99, ge=0, description="Permutations of the near-repeat test.")
    knox_min_events: int = Field(
        200, ge=2, description="Offences with fewer incidents get no near-repeat table."
    )
    seed: int = Field(12345, description="Random seed of the permutation tests (results repeat exactly).")
    workers: int = Field(2, ge=1, description="Threads for the permutation tests.")
    risk_alerts: bool = Field(
        True,
        description="Raise a near-repeat alert for each recent incident of an offence whose near-repeat table "
        "shows a significantly elevated risk around it (bounded in space and days; it expires by itself).",
    )
    risk_alpha: float = Field(
        0.05,
        gt=0,
        lt=1,
        description="Near-repeat alerts: a table cell counts when its permutation p <= this.",
    )
    risk_min_ratio: float = Field(
        1.5,
        ge=1,
        description="Near-repeat alerts: ... and its observed / expected pairs >= this (1.5: half as many again).",
    )
    risk_as_of: date | None = Field(
        None,
        description="Day the near-repeat alerts are raised for (default: the newest incident's day in the store).",
    )


class CheckSettings(Section):
    """Tolerance of `casegraph check --full` (updated store against a whole re-run on the same records)."""

    min_person_ari: float = Field(
        0.99, ge=0, le=1, description="Least adjusted Rand index of the record -> person partitions."
    )
    min_link_jaccard: float = Field(
        0.99, ge=0, le=1, description="Least Jaccard index of the sets of linked incident pairs."
    )


class Settings(Section):
    store: StoreSettings = Field(default_factory=StoreSettings, description="Where and how data is stored.")
    engine: EngineSettings = Field(default_factory=EngineSettings, description="The engine stages run on.")
    user: UserSettings = Field(default_factory=UserSettings, description="The session's stated purpose.")
    ingest: IngestSettings = Field(default_factory=IngestSettings, description="Import of records.")
    safeguards: SafeguardSettings = Field(default_factory=SafeguardSettings, description="Policy rules.")
    resolve: ResolveSettings = Field(default_factory=ResolveSettings, description="Identity resolution.")
    linkage: LinkageSettings = Field(default_factory=LinkageSettings, description="Crime linkage.")
    network: NetworkSettings = Field(default_factory=NetworkSettings, description="Networks.")
    trends: TrendsSettings = Field(default_factory=TrendsSettings, description="Growth monitoring.")
    check: CheckSettings = Field(
        default_factory=CheckSettings, description="Equivalence of an updated store with a whole re-run."
    )


ENV_OVERRIDES: dict[str, tuple[str, str]] = {
    "CASEGRAPH_STORE": ("store", "path"),
    "CASEGRAPH_ENGINE": ("engine", "name"),
}
# Identity is never a setting: an embedded store acts for the account that owns its file, and a server store
# signs its users in (CASEGRAPH_USER with CASEGRAPH_PASSWORD, or a `casegraph login` token).
REMOVED = {
    (
        "user",
        "id",
    ): "who acts is the account that owns the store file (embedded) or a signed-in user (server)",
    ("user", "agency"): "give an import's agency with --agency, the file's agency column or [ingest] agency",
    ("user", "role"): "an embedded store has no roles; a server's roles are kept by the server",
    ("store", "engine"): "the engine is one setting for every stage: [engine] name",
    ("resolve", "engine"): "the engine is one setting for every stage: [engine] name",
}


def load_settings(path: str | Path | None = None, **overrides: dict[str, Any]) -> Settings:
    """Settings from defaults, then the TOML file (if present), then environment, then keyword sections."""
    data: dict[str, Any] = {}
    toml_path = Path(path) if path else Path(os.environ.get("CASEGRAPH_CONFIG", "casegraph.toml"))
    if toml_path.exists():
        with toml_path.open("rb") as fh:
            data = tomllib.load(fh)
    elif path:
        raise SettingsError(f"settings file not found: {toml_path}")
    for (section, key), why in REMOVED.items():
        if key in data.get(section, {}):
            raise SettingsError(f"[{section}] {key} is no longer a setting ({toml_path}): {why}")
    for env, (section, key) in ENV_OVERRIDES.items():
        if os.environ.get(env):
            data.setdefault(section, {})[key] = os.environ[env]
    for section, values in overrides.items():
        data.setdefault(section, {}).update(values)
    try:
        return Settings.model_validate(data)
    except ValidationError as exc:
        raise SettingsError(f"invalid settings ({toml_path}): {exc}") from exc
