"""Item identifiers: IMEI check digits (Luhn) and the normal form serials are compared in.

The same rules run in SQL at ingest (casegraph/ingest/validate.py) and in Python for the synthetic city and
near-match candidates; the tests hold the two to each other.
"""

from __future__ import annotations

import re

IMEI_LENGTH = 15
_SEPARATORS = re.compile(r"[^0-9A-Za-z]")


def luhn_sum(digits: str) -> int:
    """The Luhn sum of a digit string (every second digit from the right doubled, digits of products added)."""
    total = 0
    for k, ch in enumerate(reversed(digits)):
        d = int(ch)
        if k % 2 == 1:
            d = 2 * d - 9 if d >= 5 else 2 * d
        total += d
    return total


def imei_check_digit(body: str) -> str:
    """The 15th digit that makes a 14-digit IMEI body pass Luhn."""
    return str((10 - luhn_sum(body + "0") % 10) % 10)


def is_valid_imei(value: str) -> bool:
    """15 digits (spaces and dashes dropped) whose Luhn sum is a multiple of 10."""
    digits = value.replace(" ", "").replace("-", "")
    return len(digits) == IMEI_LENGTH and digits.isdigit() and luhn_sum(digits) % 10 == 0


def normal_identifier(value: str) -> str:
    """The form identifiers are compared in: upper case, letters and digits only."""
    return _SEPARATORS.sub("", value).upper()


def near_identifiers(a: str, b: str) -> str | None:
    """'one_off' (same length, one character differs) or 'transposed' (two adjacent characters swapped)
    between two normal-form identifiers, else None. Equal identifiers are not a near match."""
    if len(a) != len(b) or a == b:
        return None
    diff = [k for k in range(len(a)) if a[k] != b[k]]
    if len(diff) == 1:
        return "one_off"
    if len(diff) == 2 and diff[1] == diff[0] + 1 and a[diff[0]] == b[diff[1]] and a[diff[1]] == b[diff[0]]:
        return "transposed"
    return None
