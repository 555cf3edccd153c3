"""Person records -> the normalised columns the Splink model compares.

Only fields the schema marks `matchable` are read (never a `protected` one), so no protected value can reach
a comparison or a blocking key. Names are transliterated to ASCII (anyascii), nickname groups come from the
hand-curated `nicknames` dataset, phonetic codes are NYSIIS (jellyfish). Each function maps the distinct
values of a column once, so a million records cost little more than their distinct names.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import cache

import jellyfish
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from anyascii import anyascii
from nicknames import NickNamer

from casegraph.schema import model
from casegraph.store import quote

TABLE = "person_records"
# Prepared column -> the person_records field it is derived from (every one must be matchable).
SOURCE_FIELD = {
    "given": "given_name",
    "given_code": "given_name",
    "given_initial": "given_name",
    "given_nicknames": "given_name",
    "middle": "middle_name",
    "family": "family_name",
    "family_code": "family_name",
    "alias": "alias",
    "dob": "dob",
    "dob_year": "dob",
    "dob_text": "dob",
    "sex": "sex",
    "address": "address",
    "postcode": "postcode",
    "phone": "phone",
    "id_number": "id_number",
}
KEY_COLUMNS = ("uid", "agency", "record_id")
_TEXT, _LIST = pa.string(), pa.list_(pa.string())
PREPARED_SCHEMA = pa.schema(
    [
        ("uid", pa.int64()),
        ("agency", _TEXT),
        ("record_id", _TEXT),
        ("given", _TEXT),
        ("family", _TEXT),
        ("middle", _TEXT),
        ("given_code", _TEXT),
        ("family_code", _TEXT),
        ("given_initial", _TEXT),
        ("given_nicknames", _LIST),
        ("alias", _LIST),
        ("dob", pa.date32()),
        ("dob_year", pa.int32()),
        ("dob_text", _TEXT),
        ("sex", _TEXT),
        ("address", _TEXT),
        ("postcode", _TEXT),
        ("phone", _TEXT),
        ("id_number", _TEXT),
    ]
)
SEXES = {"male", "female", "other"}
ADDRESS_WORDS = {
    "north": "n",
    "south": "s",
    "east": "e",
    "west": "w",
    "street": "st",
    "avenue": "ave",
    "road": "rd",
    "boulevard": "blvd",
    "drive": "dr",
    "place": "pl",
    "court": "ct",
    "lane": "ln",
    "terrace": "ter",
    "parkway": "pkwy",
    "highway": "hwy",
    "square": "sq",
    "apartment": "apt",
    "unit": "apt",
    "suite": "ste",
}


def matchable_fields() -> list[str]:
    """person_records fields the schema allows to be compared: matchable and not protected."""
    table = model.table(TABLE)
    return [f.name for f in table.fields if f.matchable and not f.protected]


def records_sql(where: str = "") -> str:
    """The key and matchable fields of person records; `where` is a fixed SQL condition with ? parameters."""
    fields = ", ".join(quote(f) for f in matchable_fields())
    condition = f" WHERE {where}" if where else ""
    return f"SELECT agency, record_id, {fields} FROM {quote(TABLE)}{condition} ORDER BY agency, record_id"


def _by_value(values: pd.Series, fn: Callable[[str], object]) -> pd.Series:
    """Apply fn to each distinct non-null value once (names repeat a lot)."""
    uniques = values.dropna().unique()
    mapping = {v: fn(v) for v in uniques}
    mapped = values.map(mapping).astype(object)
    return mapped.where(mapped.notna(), None)


@cache
def _nicknamer() -> NickNamer:
    return NickNamer()


def clean_name(value: str) -> str | None:
    """ASCII lower-case letters only: 'José-María' -> 'josemaria', 'Дмитрий' -> 'dmitriy'."""
    text = re.sub(r"[^a-z]", "", anyascii(value).lower())
    return text or None


def nickname_set(name: str) -> list[str]:
    """The name with every name it is a nickname of, or a nickname for: 'bill' -> bill, william, will, ..."""
    nn = _nicknamer()
    return sorted({name} | nn.canonicals_of(name) | nn.nicknames_of(name))


def _text(values: pd.Series | list[str | None]) -> pa.Array:
    """Strings as Arrow, transliterated to ASCII where they are not (only those values go through Python)."""
    arr = pa.array(values, type=pa.string(), from_pandas=True)
    foreign = pc.invert(pc.string_is_ascii(arr)).fill_null(False)
    if not pc.any(foreign).as_py():
        return arr
    replaced = [anyascii(v) for v in pc.filter(arr, foreign).to_pylist()]
    return pc.replace_with_mask(arr, foreign, pa.array(replaced, pa.string()))


def _null_if_empty(arr: pa.Array) -> pa.Array:
    return pc.if_else(pc.greater(pc.utf8_length(arr), 0), arr, pa.scalar(None, pa.string()))


ADDRESS_PATTERN = {rf"\b{long}\b": short for long, short in ADDRESS_WORDS.items()}


def clean_addresses(values: pd.Series | list[str | None]) -> pa.Array:
    """'12 North Main Street, Apt. 4' -> '12 n main st apt 4' (Arrow kernels: a million in seconds)."""
    arr = pc.replace_substring_regex(pc.utf8_lower(_text(values)), r"[^a-z0-9]+", " ")
    for pattern, short in ADDRESS_PATTERN.items():
        arr = pc.replace_substring_regex(arr, pattern, short)
    return _null_if_empty(pc.utf8_trim_whitespace(arr))


def clean_phones(values: pd.Series | list[str | None]) -> pa.Array:
    """Digits only, without a North American country code; fewer than six digits is no number."""
    digits = pc.replace_substring_regex(pa.array(values, type=pa.string(), from_pandas=True), r"\D", "")
    digits = pc.replace_substring_regex(digits, r"^1(\d{10})$", r"\1")
    return pc.if_else(pc.greater_equal(pc.utf8_length(digits), 6), digits, pa.scalar(None, pa.string()))


def clean_codes(values: pd.Series | list[str | None]) -> pa.Array:
    """Identifiers and postcodes: upper-case letters and digits only."""
    return _null_if_empty(pc.replace_substring_regex(pc.utf8_upper(_text(values)), r"[^A-Z0-9]", ""))


def clean_address(value: str) -> str | None:
    return clean_addresses([value])[0].as_py()


def clean_phone(value: str) -> str | None:
    return clean_phones([value])[0].as_py()


def clean_aliases(value: str) -> list[str] | None:
    names = sorted({n for n in (clean_name(part) for part in value.split(";")) if n})
    return names or None


def _name_columns(out: pd.DataFrame, raw: pd.DataFrame) -> None:
    given = _by_value(raw["given_name"], clean_name)
    family = _by_value(raw["family_name"], clean_name)
    out["given"], out["family"] = given, family
    out["middle"] = _by_value(raw["middle_name"], clean_name)
    out["given_code"] = _by_value(given, jellyfish.nysiis)
    out["family_code"] = _by_value(family, jellyfish.nysiis)
    out["given_initial"] = given.str[:1]
    out["given_nicknames"] = _by_value(given, nickname_set)
    out["alias"] = _by_value(raw["alias"], clean_aliases)


def _date_columns(out: pd.DataFrame, raw: pd.DataFrame) -> None:
    dob = pd.to_datetime(raw["dob"], errors="coerce")
    out["dob"] = dob
    out["dob_year"] = dob.dt.year.astype("Int64")
    text = pc.strftime(pa.array(dob, type=pa.timestamp("us")), format="%Y%m%d")  # Arrow: fast, keeps nulls
    out["dob_text"] = text.to_pandas().astype(object)


ARROW_CLEANED = {
    "address": ("address", clean_addresses),
    "postcode": ("postcode", clean_codes),
    "phone": ("phone", clean_phones),
    "id_number": ("id_number", clean_codes),
}


def prepare(raw: pd.DataFrame) -> pa.Table:
    """Prepared records: uid (row number), agency, record_id and the compared columns, typed for any engine."""
    raw = raw.reset_index(drop=True)
    out = pd.DataFrame({"uid": np.arange(len(raw), dtype=np.int64)})
    out["agency"] = raw["agency"].to_numpy()
    out["record_id"] = raw["record_id"].to_numpy()
    _name_columns(out, raw)
    _date_columns(out, raw)
    out["sex"] = _by_value(raw["sex"], lambda s: s.lower() if s.lower() in SEXES else None)
    in_pandas = pa.schema([f for f in PREPARED_SCHEMA if f.name not in ARROW_CLEANED])
    table = pa.Table.from_pandas(out, schema=in_pandas, preserve_index=False)
    for column, (field, clean) in ARROW_CLEANED.items():
        table = table.append_column(column, clean(raw[field]))
    return table.select(PREPARED_SCHEMA.names)
