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
from anyascii import anyascii
from nicknames import NickNamer

from casegraph.schema import model
from casegraph.store import quote

TABLE = "person_records"
# Prepared column -> the person_records field it is derived from (every one must be matchable).
SOURCE_FIELD = {
    "given": "given_name", "given_code": "given_name", "given_group": "given_name", "given_initial": "given_name",
    "given_nicknames": "given_name", "middle": "middle_name", "family": "family_name", "family_code": "family_name",
    "alias": "alias", "dob": "dob", "dob_year": "dob", "dob_text": "dob", "sex": "sex", "address": "address",
    "postcode": "postcode", "phone": "phone", "id_number": "id_number",
}  # fmt: skip
KEY_COLUMNS = ("uid", "agency", "record_id")
SEXES = {"male", "female", "other"}
ADDRESS_WORDS = {
    "north": "n", "south": "s", "east": "e", "west": "w", "street": "st", "avenue": "ave", "road": "rd",
    "boulevard": "blvd", "drive": "dr", "place": "pl", "court": "ct", "lane": "ln", "terrace": "ter",
    "parkway": "pkwy", "highway": "hwy", "square": "sq", "apartment": "apt", "unit": "apt", "suite": "ste",
}  # fmt: skip


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
    return values.map(mapping)


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


def nickname_group(name: str) -> str:
    """One blocking key shared by a name and its commonest nicknames (the least name of its set)."""
    return nickname_set(name)[0]


def clean_address(value: str) -> str | None:
    words = re.sub(r"[^a-z0-9 ]", " ", anyascii(value).lower()).split()
    text = " ".join(ADDRESS_WORDS.get(w, w) for w in words)
    return text or None


def clean_phone(value: str) -> str | None:
    digits = re.sub(r"\D", "", value)
    if len(digits) == 11 and digits.startswith("1"):
        digits = digits[1:]  # North American country code
    return digits if len(digits) >= 6 else None


def clean_code(value: str) -> str | None:
    text = re.sub(r"[^A-Z0-9]", "", anyascii(value).upper())
    return text or None


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
    out["given_group"] = _by_value(given, nickname_group)
    out["given_nicknames"] = _by_value(given, nickname_set)
    out["alias"] = _by_value(raw["alias"], clean_aliases)


def _date_columns(out: pd.DataFrame, raw: pd.DataFrame) -> None:
    dob = pd.to_datetime(raw["dob"], errors="coerce")
    out["dob"] = dob.dt.date.astype("object").where(dob.notna(), None)
    out["dob_year"] = dob.dt.year.astype("Int64")
    out["dob_text"] = dob.dt.strftime("%Y%m%d").where(dob.notna(), None)


def prepare(raw: pd.DataFrame) -> pd.DataFrame:
    """Prepared frame: uid (row number), agency, record_id and the compared columns."""
    out = pd.DataFrame({"uid": np.arange(len(raw), dtype=np.int64)})
    out["agency"] = raw["agency"].to_numpy()
    out["record_id"] = raw["record_id"].to_numpy()
    raw = raw.reset_index(drop=True).astype(object).where(raw.notna().reset_index(drop=True), None)
    _name_columns(out, raw)
    _date_columns(out, raw)
    sex = raw["sex"].map(lambda s: s.lower() if isinstance(s, str) and s.lower() in SEXES else None)
    out["sex"] = sex
    out["address"] = _by_value(raw["address"], clean_address)
    out["postcode"] = _by_value(raw["postcode"], clean_code)
    out["phone"] = _by_value(raw["phone"], clean_phone)
    out["id_number"] = _by_value(raw["id_number"], clean_code)
    return out.astype(object).where(out.notna(), None).astype({"uid": "int64"})


def prepared_columns() -> list[str]:
    return [*KEY_COLUMNS, *SOURCE_FIELD]
