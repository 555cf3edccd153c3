"""Settings are data: one validated model, loaded from casegraph.toml, with documented defaults.

Every field carries a description; `tests/contracts/test_docs.py` checks that docs/settings.md lists them all.
Precedence: defaults < casegraph.toml < environment (CASEGRAPH_STORE, CASEGRAPH_ENGINE, CASEGRAPH_USER ...).
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from casegraph.errors import SettingsError


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class StoreSettings(Section):
    path: str = Field("casegraph.duckdb", description="Store file (env CASEGRAPH_STORE).")
    engine: Literal["duckdb", "spark"] = Field("duckdb", description="Engine: duckdb (embedded) or spark.")
    key_env: str = Field(
        "CASEGRAPH_KEY",
        description="Environment variable holding the encryption key, if the store is encrypted.",
    )
    key_file: str | None = Field(
        None, description="File holding the encryption key (alternative to key_env)."
    )
    memory_limit: str = Field("8GB", description="DuckDB memory limit.")
    threads: int = Field(2, ge=1, description="DuckDB worker threads.")


class UserSettings(Section):
    id: str = Field("analyst", description="Acting user id (env CASEGRAPH_USER); nothing runs anonymously.")
    agency: str = Field("metro_pd", description="Acting user's agency (env CASEGRAPH_AGENCY).")
    role: Literal["analyst", "supervisor", "auditor", "admin"] = Field(
        "analyst", description="Acting user's role (env CASEGRAPH_ROLE)."
    )
    purpose: str = Field("analysis", description="Stated purpose recorded with person-level reads.")


class IngestSettings(Section):
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


class ResolveSettings(Section):
    """Identity resolution (stage `resolve`)."""

    engine: Literal["duckdb", "spark"] = Field(
        "duckdb", description="Engine Splink runs on: duckdb (the store's own connection) or spark (local mode)."
    )
    match_threshold: float = Field(
        0.9, gt=0, lt=1, description="Match probability at or above which two records are joined into one person."
    )
    keep_threshold: float = Field(
        0.05, gt=0, lt=1, description="Scored pairs below this probability are not kept (review, explain, recluster)."
    )
    review_low: float = Field(0.2, gt=0, lt=1, description="Lower probability bound of the review queue.")
    review_high: float = Field(0.97, gt=0, lt=1, description="Upper probability bound of the review queue.")
    blocking_rules: list[str] = Field(
        default_factory=lambda: [
            "l.family = r.family AND l.given = r.given",
            "l.dob = r.dob AND l.family_code = r.family_code",
            "l.dob = r.dob AND l.given_code = r.given_code",
            "l.family = r.family AND l.dob_year = r.dob_year AND l.given_initial = r.given_initial",
            "l.family = r.family AND l.dob_year = r.dob_year AND l.given_group = r.given_group",
            "l.given = r.family AND l.family = r.given",
            "l.id_number = r.id_number",
            "l.phone = r.phone",
            "l.address = r.address AND l.given_code = r.given_code",
        ],
        description="Blocking rules (SQL over prepared columns, l. and r.): pairs found by any rule are scored. "
        "Columns: given, given_code, given_group, given_initial, family, family_code, dob, dob_year, id_number, "
        "phone, address, postcode.",
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
        30, ge=1, description="Accepted analyst decisions needed before they are used to estimate m (clerical labels)."
    )
    cross_agency_only: bool = Field(
        False, description="Score only pairs from different agencies (linking sources that hold no duplicates)."
    )
    seed: int = Field(42, description="Seed for u sampling, so a run is reproducible.")


class LinkageSettings(Section):
    """Crime linkage (stage `linkage`)."""


class NetworkSettings(Section):
    """Person and group networks (stage `network`)."""


class TrendsSettings(Section):
    """Growth monitoring (stage `trends`)."""


class Settings(Section):
    store: StoreSettings = Field(default_factory=StoreSettings, description="Where and how data is stored.")
    user: UserSettings = Field(default_factory=UserSettings, description="Who is acting.")
    ingest: IngestSettings = Field(default_factory=IngestSettings, description="Import of records.")
    safeguards: SafeguardSettings = Field(default_factory=SafeguardSettings, description="Policy rules.")
    resolve: ResolveSettings = Field(default_factory=ResolveSettings, description="Identity resolution.")
    linkage: LinkageSettings = Field(default_factory=LinkageSettings, description="Crime linkage.")
    network: NetworkSettings = Field(default_factory=NetworkSettings, description="Networks.")
    trends: TrendsSettings = Field(default_factory=TrendsSettings, description="Growth monitoring.")


ENV_OVERRIDES: dict[str, tuple[str, str]] = {
    "CASEGRAPH_STORE": ("store", "path"),
    "CASEGRAPH_ENGINE": ("store", "engine"),
    "CASEGRAPH_USER": ("user", "id"),
    "CASEGRAPH_AGENCY": ("user", "agency"),
    "CASEGRAPH_ROLE": ("user", "role"),
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
    for env, (section, key) in ENV_OVERRIDES.items():
        if os.environ.get(env):
            data.setdefault(section, {})[key] = os.environ[env]
    for section, values in overrides.items():
        data.setdefault(section, {}).update(values)
    try:
        return Settings.model_validate(data)
    except ValidationError as exc:
        raise SettingsError(f"invalid settings ({toml_path}): {exc}") from exc
