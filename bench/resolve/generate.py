"""A fast person-record generator for the million-record benchmark, with the noise police records show.

Vocabularies large enough for a million people (about a thousand given names with their nicknames from the
`nicknames` dataset, thirty thousand made-up family names, both Zipf-distributed), so blocking meets the
skew of real names. Each person has 1-5 records across three agencies; later records carry nicknames,
typos, swapped name order, day/month swaps and year errors in the date of birth, moved or missing
addresses, reformatted phones, missing or mistyped id numbers. Writes person_records.csv and
person_truth.csv (record_id,person_id). Deterministic for a seed.
"""

from __future__ import annotations

import argparse
import csv
import string
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

AGENCIES = np.array(["metro_pd", "county_so", "transit_pd"])
STREET_TYPES = np.array(["St", "Ave", "Rd", "Blvd", "Dr", "Pl", "Ct", "Ln"])
ALIASES = np.array(
    ["Shorty", "Ghost", "Smoke", "Ace", "Tiny", "Red", "Slim", "Bugs", "Lefty", "Junior", "Boo", "Dre"]
)
SYLLABLES = [
    "an",
    "ber",
    "bro",
    "cal",
    "car",
    "dal",
    "den",
    "dor",
    "el",
    "far",
    "gan",
    "gar",
    "hal",
    "har",
    "hol",
    "jen",
    "kar",
    "kel",
    "kin",
    "lan",
    "lar",
    "len",
    "lin",
    "lor",
    "mal",
    "man",
    "mar",
    "mel",
    "mor",
    "nel",
    "nor",
    "ol",
    "or",
    "pan",
    "par",
    "per",
    "ran",
    "ren",
    "ros",
    "sal",
    "san",
    "sel",
    "son",
    "stan",
    "tar",
    "ter",
    "tor",
    "val",
    "van",
    "ver",
    "wal",
    "war",
    "wel",
    "win",
    "yar",
    "zan",
]


def nickname_table() -> dict[str, list[str]]:
    """name -> its nicknames, from the `nicknames` package's names.csv."""
    table: dict[str, list[str]] = {}
    with resources.files("nicknames").joinpath("names.csv").open(encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            if row["relationship"] == "has_nickname":
                table.setdefault(row["name1"], []).append(row["name2"])
    return table


def zipf_weights(n: int, exponent: float, offset: float) -> np.ndarray:
    weights = 1.0 / (np.arange(n) + offset) ** exponent
    return weights / weights.sum()


def family_names(rng: np.random.Generator, n: int) -> np.ndarray:
    names: set[str] = set()
    while len(names) < n:
        k = rng.integers(2, 4)
        names.add("".join(rng.choice(SYLLABLES, size=k)).capitalize())
    return np.array(sorted(names))


def typo(rng: np.random.Generator, text: str) -> str:
    """One substitution, adjacent transposition or deletion, never in the first letter."""
    if len(text) < 3:
        return text
    i = int(rng.integers(1, len(text) - 1))
    kind = int(rng.integers(3))
    if kind == 0:
        return text[:i] + str(rng.choice(list(string.ascii_lowercase))) + text[i + 1 :]
    if kind == 1:
        return text[: i - 1] + text[i] + text[i - 1] + text[i + 1 :]
    return text[:i] + text[i + 1 :]


def _apply(rng: np.random.Generator, values: np.ndarray, mask: np.ndarray, fn) -> np.ndarray:
    out = values.copy()
    out[mask] = [fn(rng, v) for v in values[mask]]
    return out


def people(rng: np.random.Generator, n: int, given: np.ndarray, family: np.ndarray) -> pd.DataFrame:
    """n true identities."""
    return pd.DataFrame(
        {
            "given": rng.choice(given, size=n, p=zipf_weights(len(given), 1.0, 8.0)),
            "middle": np.where(rng.random(n) < 0.7, rng.choice(given, size=n), ""),
            "family": rng.choice(family, size=n, p=zipf_weights(len(family), 0.9, 50.0)),
            "male": rng.random(n) < 0.5,
            "dob": rng.integers(
                np.datetime64("1945-01-01").astype(int), np.datetime64("2008-12-31").astype(int), n
            ),
            "number": rng.integers(1, 9999, n),
            "street": rng.choice(family, size=n),
            "stype": rng.integers(0, 8, n),
            "postcode": rng.integers(10000, 10600, n),
            "phone": np.where(
                rng.random(n) < 0.6, rng.integers(2_000_000_000, 9_999_999_999, n).astype(str), ""
            ),
            "id_number": np.where(rng.random(n) < 0.6, rng.integers(10**8, 10**9, n).astype(str), ""),
            "alias": np.where(rng.random(n) < 0.15, rng.choice(ALIASES, size=n), ""),
        }
    )


def _nicknamed(
    rng: np.random.Generator, given: np.ndarray, mask: np.ndarray, nick: dict[str, list[str]]
) -> np.ndarray:
    def swap(r: np.random.Generator, name: str) -> str:
        options = nick.get(name.lower())
        return str(r.choice(options)).capitalize() if options else name

    return _apply(rng, given, mask, swap)


def _dob_text(rng: np.random.Generator, dob: np.ndarray, noisy: np.ndarray) -> np.ndarray:
    """ISO dates with day/month swaps, year errors (+-1, +-10) and blanks on noisy records."""
    dates = pd.to_datetime(dob.astype("datetime64[D]"))
    year, month, day = dates.year.to_numpy(), dates.month.to_numpy(), dates.day.to_numpy()
    r = rng.random(len(dob))
    swap = noisy & (r < 0.05) & (day <= 12)
    year = np.where(noisy & (r >= 0.05) & (r < 0.10), year + rng.choice([-10, -1, 1, 10], len(dob)), year)
    month, day = np.where(swap, day, month), np.where(swap, month, day)
    day = np.where(month == 2, np.minimum(day, 28), day)
    text = (
        pd.Series(year).astype(str)
        + "-"
        + pd.Series(month).map("{:02d}".format)
        + "-"
        + pd.Series(day).map("{:02d}".format)
    )
    return np.where(noisy & (r >= 0.10) & (r < 0.14), "", text.to_numpy(dtype=object))


def _phone_text(rng: np.random.Generator, phone: np.ndarray) -> np.ndarray:
    s = pd.Series(phone)
    dashed = s.str[:3] + "-" + s.str[3:6] + "-" + s.str[6:]
    bracketed = "(" + s.str[:3] + ") " + s.str[3:6] + "-" + s.str[6:]
    style = rng.integers(0, 3, len(phone))
    out = np.where(style == 0, phone, np.where(style == 1, dashed, bracketed))
    return np.where((phone == "") | (rng.random(len(phone)) < 0.5), "", out)


def records(
    rng: np.random.Generator, persons: pd.DataFrame, n_records: int, nick: dict[str, list[str]]
) -> pd.DataFrame:
    counts = rng.choice([1, 2, 3, 4, 5], p=[0.45, 0.25, 0.15, 0.1, 0.05], size=len(persons))
    pid = np.repeat(np.arange(len(persons)), counts)[:n_records]
    r = persons.iloc[pid].reset_index(drop=True)
    m = len(r)
    noisy = np.r_[False, pid[1:] == pid[:-1]]
    u = {k: rng.random(m) for k in ("nick", "gt", "ft", "swap", "move", "addr", "mid", "id", "idt", "alias")}
    given = _nicknamed(rng, r["given"].to_numpy(object), noisy & (u["nick"] < 0.3), nick)
    given = _apply(rng, given, noisy & (u["gt"] < 0.08), typo)
    family = _apply(rng, r["family"].to_numpy(object), noisy & (u["ft"] < 0.08), typo)
    swapped = noisy & (u["swap"] < 0.02)
    given, family = np.where(swapped, family, given), np.where(swapped, given, family)
    moved = noisy & (u["move"] < 0.25)
    number = np.where(moved, rng.integers(1, 9999, m), r["number"])
    street = np.where(moved, rng.choice(r["family"].to_numpy(object), m), r["street"])
    address = (
        pd.Series(number).astype(str) + " " + pd.Series(street) + " " + STREET_TYPES[r["stype"].to_numpy()]
    )
    middle = r["middle"].to_numpy(object)
    middle = np.where(u["mid"] < 0.5, pd.Series(middle).str[:1].to_numpy(object), middle)
    id_number = np.where(u["id"] < 0.6, r["id_number"], "")
    id_number = _apply(rng, id_number, noisy & (u["idt"] < 0.03) & (id_number != ""), typo)
    return pd.DataFrame(
        {
            "record_id": [f"R{i:08d}" for i in range(1, m + 1)],
            "agency": rng.choice(AGENCIES, m, p=[0.55, 0.28, 0.17]),
            "given_name": given,
            "middle_name": middle,
            "family_name": family,
            "alias": np.where(u["alias"] < 0.6, r["alias"], ""),
            "dob": _dob_text(rng, r["dob"].to_numpy(), noisy),
            "sex": np.where(r["male"], "male", "female"),
            "address": np.where(u["addr"] < 0.08, "", address.to_numpy(object)),
            "postcode": np.where(moved, rng.integers(10000, 10600, m), r["postcode"]).astype(str),
            "phone": _phone_text(rng, r["phone"].to_numpy(object)),
            "id_number": id_number,
            "person_id": [f"P{p:08d}" for p in pid],
        }
    )


def generate(out: Path, n_records: int, seed: int = 1) -> Path:
    """Write out/person_records.csv and out/person_truth.csv."""
    rng = np.random.default_rng(seed)
    nick = nickname_table()
    given = np.array(sorted(n.capitalize() for n in nick))
    persons = people(rng, int(n_records / 1.8) + 10, given, family_names(rng, 30_000))
    frame = records(rng, persons, n_records, nick)
    out.mkdir(parents=True, exist_ok=True)
    frame.drop(columns=["person_id"]).to_csv(out / "person_records.csv", index=False)
    frame[["record_id", "person_id"]].to_csv(out / "person_truth.csv", index=False)
    return out


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("out", type=Path)
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    print(generate(args.out, args.records, args.seed))
