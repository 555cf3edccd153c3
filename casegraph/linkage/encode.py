"""Per-incident encoding: the incidents' feature fields turned into numeric arrays, once per incident.

Pair features (features.py) are then cheap gathers over these arrays. The encoder is fitted on all
incidents of a run (vocabularies, value frequencies, a TF-IDF + LSA text space) and saved with the model,
so `similar` encodes a new incident exactly as `link` encoded the stored ones.
"""

from __future__ import annotations

import base64
import re
import zlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.decomposition import TruncatedSVD
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.neighbors import KDTree
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import Normalizer

from casegraph.linkage.comparisons import Comparison
from casegraph.linkage.timewindows import cycle_moments

TOKEN_BITS = 64
TEXT_CHUNK = 100_000
WORD = re.compile(r"[a-z0-9]+")


@dataclass
class Encoded:
    """Named per-incident arrays (first axis = incident), e.g. t_lo, x, mo_entry:code, narrative:vec."""

    columns: dict[str, np.ndarray]
    _wide: dict[str, np.ndarray] = field(default_factory=dict, repr=False)

    def float32(self, name: str) -> np.ndarray:
        """A float16 column widened once (gathers of float16 rows then casting cost more than the dot product)."""
        if name not in self._wide:
            self._wide[name] = self.columns[name].astype(np.float32)
        return self._wide[name]

    def __len__(self) -> int:
        return len(self.columns["t_lo"])

    def __getitem__(self, name: str) -> np.ndarray:
        return self.columns[name]

    def take(self, rows: np.ndarray) -> Encoded:
        return Encoded({k: v[rows] for k, v in self.columns.items()})

    def dtype(self) -> np.dtype:
        return np.dtype([(k, v.dtype, v.shape[1:]) for k, v in self.columns.items()])

    def pack(self) -> list[str]:
        """One base64 string per incident (the linkage index stores these)."""
        rows = np.empty(len(self), self.dtype())
        for k, v in self.columns.items():
            rows[k] = v
        raw = rows.view(np.uint8).reshape(len(self), -1)
        return [base64.b64encode(r.tobytes()).decode("ascii") for r in raw]

    @staticmethod
    def concat(parts: list[Encoded]) -> Encoded:
        """The rows of several Encoded (same columns) one after the other."""
        return Encoded({k: np.concatenate([p.columns[k] for p in parts]) for k in parts[0].columns})

    @staticmethod
    def unpack(packed: list[str], dtype: np.dtype) -> Encoded:
        data = b"".join(base64.b64decode(p) for p in packed)
        rows = np.frombuffer(data, dtype=dtype)
        return Encoded({k: np.ascontiguousarray(rows[k]) for k in dtype.names or ()})


def hours_since_epoch(values: pd.Series) -> np.ndarray:
    stamps = pd.to_datetime(values).astype("datetime64[s]")
    return stamps.astype("int64").to_numpy(dtype=np.float64, na_value=np.nan) / 3600.0


def _clean(values: pd.Series) -> pd.Series:
    text = values.astype("string").str.strip().str.lower()
    return text.mask(text == "")


def _tokens(values: pd.Series, separator: str | None) -> pd.Series:
    text = _clean(values)
    parts = text.str.split(separator) if separator else text.str.findall(WORD)
    return parts.explode().astype("string").str.strip().replace("", pd.NA).dropna()


def _bit_of(token: str, ranks: dict[str, int]) -> int:
    rank = ranks.get(token)
    return rank if rank is not None else zlib.crc32(token.encode()) % TOKEN_BITS


class IncidentEncoder:
    """Learns vocabularies and a text space from incidents; encodes incidents into an Encoded."""

    def __init__(
        self,
        *,
        comparisons: tuple[Comparison, ...],
        text_dims: int = 32,
        text_sample: int = 200_000,
        random_state: int = 0,
    ) -> None:
        self.comparisons = comparisons
        self.text_dims = text_dims
        self.text_sample = text_sample
        self.random_state = random_state

    def fit(self, frame: pd.DataFrame) -> IncidentEncoder:
        self.codes_: dict[str, dict[str, int]] = {}
        self.surprisal_: dict[str, np.ndarray] = {}
        self.token_ranks_: dict[str, dict[str, int]] = {}
        self.text_model_: Any = None
        for c in self.comparisons:
            column = frame[c.fields[0]] if c.fields[0] in frame else pd.Series(dtype="string")
            if c.kind in ("category", "same_code"):
                self._fit_codes(c.name, column)
            elif c.kind == "token_set":
                counts = _tokens(column, _separator(c)).value_counts()
                self.token_ranks_[c.name] = {t: r for r, t in enumerate(counts.index[:TOKEN_BITS])}
            elif c.kind == "text":
                self.text_model_ = self._fit_text(_clean(column).dropna())
        return self

    def _fit_codes(self, name: str, column: pd.Series) -> None:
        shares = _clean(column).value_counts(normalize=True)
        self.codes_[name] = {v: k for k, v in enumerate(shares.index)}
        self.surprisal_[name] = (-np.log(shares.to_numpy())).astype(np.float32)

    def _fit_text(self, texts: pd.Series) -> Any:
        if len(texts) < 10:
            return None
        sample = texts.sample(min(len(texts), self.text_sample), random_state=self.random_state)
        tfidf = TfidfVectorizer(min_df=2, max_df=0.5, sublinear_tf=True, ngram_range=(1, 2), dtype=np.float32)
        dims = max(1, min(self.text_dims, len(sample) // 4))
        svd = TruncatedSVD(n_components=dims, random_state=self.random_state)
        try:
            return make_pipeline(tfidf, svd, Normalizer()).fit(sample)
        except ValueError:  # no term passes min_df / max_df: there is no text signal to use
            return None

    def transform(self, frame: pd.DataFrame) -> Encoded:
        t_lo = hours_since_epoch(frame["occurred_from"])
        t_hi = hours_since_epoch(frame["occurred_to"]) if "occurred_to" in frame else t_lo
        t_hi = np.where(np.isnan(t_hi), t_lo, np.maximum(t_hi, t_lo))
        cols: dict[str, np.ndarray] = {"t_lo": t_lo, "t_hi": t_hi}
        for c in self.comparisons:
            cols.update(self._encode(c, frame, t_lo, t_hi))
        return Encoded(cols)

    def _encode(
        self, c: Comparison, frame: pd.DataFrame, t_lo: np.ndarray, t_hi: np.ndarray
    ) -> dict[str, np.ndarray]:
        get = _getter(frame)
        if c.kind in ("distance", "space_time"):
            return {"x": get("x"), "y": get("y")}
        if c.kind == "relative_distance":
            return {"spacing": local_spacing(get("x"), get("y"))}
        if c.kind == "time_gap":
            return {}
        if c.kind == "cycle_gap":
            return {f"{c.name}:moment": cycle_moments(t_lo, t_hi, c.period_hours).astype(np.float32)}
        if c.kind in ("category", "same_code"):
            codes = self._code(c.name, frame.get(c.fields[0]), len(frame))
            if c.kind == "same_code":
                return {f"{c.name}:code": codes}
            return {f"{c.name}:code": codes, f"{c.name}:weight": self._weight(c.name, codes)}
        if c.kind == "token_set":
            return {f"{c.name}:bits": self._bits(c, frame.get(c.fields[0]), len(frame))}
        if c.kind == "text":
            return self._text(c, frame.get(c.fields[0]), len(frame))
        if c.kind == "range_gap":
            lo, hi = get(c.fields[0]), get(c.fields[1])
            return {
                f"{c.name}:lo": np.where(np.isnan(lo), hi, lo),
                f"{c.name}:hi": np.where(np.isnan(hi), lo, hi),
            }
        return {f"{c.name}:value": get(c.fields[0])}

    def _code(self, name: str, column: pd.Series | None, n: int) -> np.ndarray:
        if column is None:
            return np.full(n, -1, np.int32)
        vocab = self.codes_[name]
        values = _clean(column)
        known = values.map(vocab)
        unseen = values.notna() & known.isna()
        # A value first seen after fitting still matches itself: it gets a hashed code past the vocabulary.
        hashed = values[unseen].map(lambda v: len(vocab) + zlib.crc32(v.encode()) % 1_000_003)
        codes = known.astype("Float64").fillna(-1)
        codes[unseen] = hashed
        return codes.to_numpy(dtype=np.int64).astype(np.int32)

    def _weight(self, name: str, codes: np.ndarray) -> np.ndarray:
        """Surprisal (-ln share) of each incident's own value; a value unseen when fitting counts as rarest."""
        table = self.surprisal_[name]
        rarest = float(table.max()) if len(table) else 0.0
        known = (codes >= 0) & (codes < len(table))
        weights = np.full(len(codes), rarest, np.float32)
        weights[known] = table[codes[known]]
        return weights

    def _bits(self, c: Comparison, column: pd.Series | None, n: int) -> np.ndarray:
        out = np.zeros(n, np.uint64)
        if column is None:
            return out
        tokens = _tokens(column.reset_index(drop=True), _separator(c))
        ranks = self.token_ranks_.get(c.name, {})
        distinct = tokens.unique()  # a few thousand words, repeated over millions of incidents
        bit = pd.Series([_bit_of(t, ranks) for t in distinct], index=distinct, dtype=np.uint64)
        bits = bit.reindex(tokens.to_numpy()).to_numpy(dtype=np.uint64)
        np.bitwise_or.at(out, tokens.index.to_numpy(), np.left_shift(np.uint64(1), bits))
        return out

    def _text(self, c: Comparison, column: pd.Series | None, n: int) -> dict[str, np.ndarray]:
        if self.text_model_ is None or column is None:
            return {}
        texts = _clean(column).reset_index(drop=True)
        present = texts.notna().to_numpy()
        vectors = np.zeros((n, self.text_model_[-2].n_components), np.float16)
        rows = np.flatnonzero(present)
        for start in range(0, len(rows), TEXT_CHUNK):  # in chunks: a million TF-IDF rows would fill memory
            part = rows[start : start + TEXT_CHUNK]
            vectors[part] = self.text_model_.transform(texts.iloc[part].tolist()).astype(np.float16)
        return {f"{c.name}:vec": vectors}


SPACING_K = 10


def local_spacing(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Each incident's distance to its 10th nearest other incident among those encoded together (NaN without
    a place, or when fewer than 11 incidents are: an incident encoded alone has no neighbourhood)."""
    out = np.full(len(x), np.nan, np.float32)
    placed = np.isfinite(x) & np.isfinite(y)
    if placed.sum() > SPACING_K:
        points = np.column_stack([x[placed], y[placed]])
        distances, _ = KDTree(points).query(points, k=SPACING_K + 1)
        out[placed] = distances[:, -1]
    return out


def _separator(c: Comparison) -> str | None:
    return ";" if c.name == "property_taken" else None


def _getter(frame: pd.DataFrame) -> Any:
    def get(name: str) -> np.ndarray:
        if name not in frame:
            return np.full(len(frame), np.nan)
        return pd.to_numeric(frame[name], errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)

    return get
