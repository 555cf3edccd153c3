"""The linkage index: incidents read (feature fields only), encoded once and written to `linkage_index`;
and the saved model artefact (encoder + pair model) in `linkage_models`."""

from __future__ import annotations

import base64
import hashlib
import pickle
import re
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from casegraph.errors import SchemaError, StageNotRun
from casegraph.linkage.comparisons import Comparison, fields_read
from casegraph.linkage.encode import Encoded, IncidentEncoder
from casegraph.schema import model
from casegraph.settings import LinkageSettings
from casegraph.store import Store, quote

INDEX = "linkage_index"
WRITE_CHUNK = 200_000
_PARAM = re.compile(r"\$([a-z_]+)")


def params_for(sql: str, values: dict[str, Any]) -> dict[str, Any]:
    """Only the named parameters the statement uses (DuckDB refuses extra ones)."""
    used = set(_PARAM.findall(sql))
    return {k: v for k, v in values.items() if k in used}


def incidents_sql(fields: list[str], where: str = "") -> str:
    """Feature fields of incidents (never a protected field: the comparisons were checked against the schema)."""
    table = model.table("incidents")
    for name in fields:
        if table.field(name).protected:
            raise SchemaError(f"refusing to read protected field incidents.{name} for linkage")
    cols = ", ".join(quote(f) for f in ["agency", "incident_id", *fields])
    return f"SELECT {cols} FROM incidents{where} ORDER BY agency, incident_id"


def families(offences: pd.Series) -> pd.Series:
    """Offence family per incident (vocabularies.yaml offence_family); an unknown offence is its own family."""
    mapping = model.vocabularies.get("offence_family", {})
    return offences.map(lambda o: mapping.get(o, o) if isinstance(o, str) else "")


@dataclass
class IncidentIndex:
    """Encoded incidents in row order (row_no = position), with their ids."""

    agency: np.ndarray
    incident_id: np.ndarray
    encoded: Encoded
    family: np.ndarray

    def __len__(self) -> int:
        return len(self.incident_id)


def read_incidents(store: Store, comparisons: tuple[Comparison, ...]) -> pd.DataFrame:
    """The incidents' feature fields, text kept in Arrow buffers (a third of the memory of Python strings at a
    million incidents), ordered by family and time."""
    table = store.arrow(incidents_sql(fields_read(comparisons)))
    frame = table.to_pandas(types_mapper={pa.string(): pd.StringDtype("pyarrow")}.get)
    frame["family"] = families(frame["offence"])
    frame["_t"] = pd.to_datetime(frame["occurred_from"])
    return frame.sort_values(["family", "_t", "agency", "incident_id"], kind="stable").reset_index(drop=True)


def build_index(store: Store, run_id: str, frame: pd.DataFrame, encoder: IncidentEncoder) -> IncidentIndex:
    """Encode the incidents and write them, ordered by family and time, as this run's index rows.

    Rows of earlier runs stay until this run succeeds (see drop_other_runs), so `similar` keeps working.
    """
    encoded = encoder.transform(frame)
    for start in range(0, len(frame), WRITE_CHUNK):
        part = slice(start, start + WRITE_CHUNK)
        rows = np.arange(len(frame))[part]
        store.write(INDEX, _index_table(run_id, frame.iloc[part], encoded.take(rows), rows))
    return IncidentIndex(
        frame["agency"].to_numpy(),
        frame["incident_id"].to_numpy(),
        encoded,
        frame["family"].to_numpy(dtype=str),
    )


def append_to_index(store: Store, run_id: str, frame: pd.DataFrame, encoder: IncidentEncoder) -> np.ndarray:
    """Encode incidents stored after the run (frame: their feature fields and family) with the run's encoder and
    add them to its index after its last row; returns their row numbers."""
    first = store.scalar(f"SELECT coalesce(max(row_no) + 1, 0) FROM {INDEX} WHERE run_id = ?", [run_id])
    rows = np.arange(first, first + len(frame))
    store.write(INDEX, _index_table(run_id, frame, encoder.transform(frame), rows))
    return rows


def _index_table(run_id: str, frame: pd.DataFrame, encoded: Encoded, rows: np.ndarray) -> pa.Table:
    def floats(values: np.ndarray) -> pa.Array:
        return pa.array(values, type=pa.float64(), from_pandas=True)

    return pa.table(
        {
            "run_id": pa.array([run_id] * len(rows)),
            "row_no": pa.array(rows, type=pa.int64()),
            "agency": pa.array(frame["agency"].astype(str)),
            "incident_id": pa.array(frame["incident_id"].astype(str)),
            "family": pa.array(frame["family"].astype(str)),
            "t_lo": floats(encoded["t_lo"]),
            "t_hi": floats(encoded["t_hi"]),
            "x": floats(encoded.columns.get("x", np.full(len(rows), np.nan))),
            "y": floats(encoded.columns.get("y", np.full(len(rows), np.nan))),
            "encoded": pa.array(encoded.pack()),
        }
    )


@dataclass
class RunContext:
    """What the parts of one linkage run share: the store, the run, the encoded incidents, the blocking
    plan and the comparisons in use."""

    store: Store
    run_id: str
    index: IncidentIndex
    plan: Any
    comparisons: tuple[Comparison, ...]
    settings: LinkageSettings


@dataclass
class Artefact:
    """What `similar` needs to score like `link` did: the encoder, the pair model and the blocking plan."""

    encoder: IncidentEncoder
    model: Any
    comparisons: tuple[Comparison, ...]
    plan: Any
    layout: np.dtype
    model_id: str = ""
    run_id: str = ""
    description: str = ""
    notes: list[str] | None = None

    def about(self) -> dict[str, Any]:
        """Which model answered and what the data did not support (said in every answer)."""
        return {"model_id": self.model_id, "model": self.description, "notes": list(self.notes or [])}

    def dumps(self) -> tuple[str, str]:
        raw = pickle.dumps(self, protocol=pickle.HIGHEST_PROTOCOL)
        return base64.b64encode(raw).decode("ascii"), hashlib.sha256(raw).hexdigest()


_CACHE: dict[tuple[str, str], Artefact] = {}


def latest_run(store: Store) -> str:
    run = store.scalar(
        "SELECT run_id FROM linkage_models WHERE selected ORDER BY created_at DESC, run_id DESC LIMIT 1"
    )
    if not run:
        raise StageNotRun("no linkage model yet: run `casegraph link` first")
    return str(run)


def load_artefact(store: Store, run_id: str | None = None) -> Artefact:
    """The selected model of a run (the latest by default), checked against its sha256; cached per store."""
    run_id = run_id or latest_run(store)
    key = (store.path, run_id)
    if key not in _CACHE:
        rows = store.rows(
            "SELECT model_id, artefact, artefact_sha256 FROM linkage_models WHERE run_id = ? AND selected",
            [run_id],
        )
        if not rows:
            raise StageNotRun(f"linkage run {run_id} has no selected model")
        model_id, text, digest = rows[0]
        raw = base64.b64decode(text)
        if hashlib.sha256(raw).hexdigest() != digest:
            raise StageNotRun(
                f"the stored model {model_id} does not match its checksum; re-run `casegraph link`"
            )
        artefact = pickle.loads(raw)  # noqa: S301 - written by this stage into the store, checksum verified
        artefact.model_id, artefact.run_id = model_id, run_id
        _CACHE[key] = artefact
    return _CACHE[key]


def forget_cache() -> None:
    _CACHE.clear()


DERIVED = ("incident_links", "property_links", "series", "linkage_models", INDEX)


def drop_other_runs(store: Store, run_id: str) -> None:
    """A finished run replaces the previous run's rows in every table the stage writes, all at once."""
    with store.transaction():
        for table in DERIVED:
            store.execute(f"DELETE FROM {quote(table)} WHERE run_id <> ?", [run_id])
