"""Configuration of the synthetic city and its geometry (districts, metres, lat/lon) and clock."""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TypeVar

T = TypeVar("T")

DAY = 86_400
M_PER_DEG_LAT = 111_320.0


@dataclass
class CityConfig:
    """Parameters of one synthetic city. Zero counts are derived from ``n_incidents``.

    ``agencies`` are, in order, the city police, the county sheriff and the transit police.
    """

    n_incidents: int = 4000
    seed: int = 7
    n_groups: int = 0
    n_offenders: int = 0
    agencies: tuple[str, str, str] = ("metro_pd", "county_so", "transit_pd")
    start: str = "2023-01-01"
    span_days: int = 731
    centre_lat: float = 41.85
    centre_lon: float = -87.70
    size_m: float = 20_000.0
    grid: int = 5
    group_share: float = 0.6  # offenders who belong to a group
    background_share: float = 0.45  # incidents by one-off unknown offenders, not in any series
    series_solve_rate: float = 0.25
    background_solve_rate: float = 0.03
    claim_share: float = 0.7  # group members an agency has a membership claim on
    tie_onset_frac: float = 0.40
    spread_start_frac: float = 0.55
    chunk_rows: int = 50_000
    city: str = "Lakeside"  # the city's name where property surfaces (pawn shops, recoveries)
    resale_city: str = "Riverton"  # where the planted fence resells stolen items from resale_start_frac on
    # before it, the fence sells at the city's own pawn shops; late enough to fall after the groups' baseline year
    resale_start_frac: float = 0.75
    resale_lat: float = 42.35
    resale_lon: float = -87.90

    def __post_init__(self) -> None:
        if self.n_incidents < 500:
            raise ValueError("n_incidents must be at least 500 so every planted pattern fits")
        if len(self.agencies) != 3:
            raise ValueError("agencies must name three agencies: city police, county, transit")
        if not self.n_groups:
            self.n_groups = min(12, max(4, self.n_incidents // 800))
        if not 3 <= self.n_groups <= 12:
            raise ValueError("n_groups must be between 3 and 12")
        if not self.n_offenders:
            self.n_offenders = min(500_000, max(100, self.n_incidents // 20))

    @property
    def start_date(self) -> date:
        return date.fromisoformat(self.start)

    @property
    def tie_onset_day(self) -> int:
        return int(self.span_days * self.tie_onset_frac)

    @property
    def spread_start_day(self) -> int:
        return int(self.span_days * self.spread_start_frac)

    @property
    def resale_start_day(self) -> int:
        return int(self.span_days * self.resale_start_frac)


class FastRandom(random.Random):
    """``random.Random`` whose choice/randrange/randint scale one float draw instead of rejection
    sampling on random bits: several times faster in the per-row hot loops, equally deterministic."""

    def choice(self, seq: Sequence[T]) -> T:  # type: ignore[override]
        return seq[int(self.random() * len(seq))]

    def randrange(self, start: int, stop: int | None = None) -> int:  # type: ignore[override]
        if stop is None:
            start, stop = 0, start
        return start + int(self.random() * (stop - start))

    def randint(self, a: int, b: int) -> int:
        return a + int(self.random() * (b - a + 1))


def sub_rng(seed: int, stream: str, k: int = 0) -> FastRandom:
    """An independent generator per (stream, item), so chunking never changes what an item gets."""
    return FastRandom(f"{seed}/{stream}/{k}")


class Geo:
    """Local metres (origin at the south-west corner) <-> districts and WGS84 (equirectangular)."""

    def __init__(self, cfg: CityConfig) -> None:
        self.size = cfg.size_m
        self.n = cfg.grid
        self.cell = cfg.size_m / cfg.grid
        self.lat_c = cfg.centre_lat
        self.lon_c = cfg.centre_lon
        self.m_per_deg_lon = M_PER_DEG_LAT * math.cos(math.radians(cfg.centre_lat))

    def district(self, x: float, y: float) -> int:
        col = min(self.n - 1, max(0, int(x // self.cell)))
        row = min(self.n - 1, max(0, int(y // self.cell)))
        return row * self.n + col

    @staticmethod
    def code(i: int) -> str:
        return f"D{i + 1:02d}"

    def bounds(self, i: int) -> tuple[float, float, float, float]:
        row, col = divmod(i, self.n)
        return col * self.cell, row * self.cell, (col + 1) * self.cell, (row + 1) * self.cell

    def neighbours(self, i: int) -> list[int]:
        row, col = divmod(i, self.n)
        cells = ((row - 1, col), (row + 1, col), (row, col - 1), (row, col + 1))
        return [r * self.n + c for r, c in cells if 0 <= r < self.n and 0 <= c < self.n]

    def is_outer(self, i: int) -> bool:
        row, col = divmod(i, self.n)
        return row in (0, self.n - 1) or col in (0, self.n - 1)

    def latlon(self, x: float, y: float) -> tuple[float, float]:
        half = self.size / 2
        return self.lat_c + (y - half) / M_PER_DEG_LAT, self.lon_c + (x - half) / self.m_per_deg_lon

    def point_in(self, rng: random.Random, i: int, margin: float = 150.0) -> tuple[float, float]:
        x0, y0, x1, y1 = self.bounds(i)
        return rng.uniform(x0 + margin, x1 - margin), rng.uniform(y0 + margin, y1 - margin)

    def clip(self, x: float, y: float, i: int | None = None) -> tuple[float, float]:
        """Clamp into district ``i`` (or the city) so a point never strays outside its allowed ground."""
        x0, y0, x1, y1 = self.bounds(i) if i is not None else (0.0, 0.0, self.size, self.size)
        return min(x1 - 1.0, max(x0 + 1.0, x)), min(y1 - 1.0, max(y0 + 1.0, y))

    def place(
        self, rng: random.Random, ax: float, ay: float, allowed: frozenset[int] | None
    ) -> tuple[float, float]:
        """A point around an anchor with distance decay (mean ~700 m, at most 2 km), inside ``allowed``."""
        for _ in range(12):
            dist = min(2000.0, rng.expovariate(1 / 700.0))
            ang = rng.uniform(0.0, 2 * math.pi)
            x, y = ax + dist * math.cos(ang), ay + dist * math.sin(ang)
            if (
                0 <= x < self.size
                and 0 <= y < self.size
                and (allowed is None or self.district(x, y) in allowed)
            ):
                return x, y
        return self.clip(ax, ay, self.district(ax, ay) if allowed is not None else None)


class Clock:
    """Seconds since the span's start <-> ISO strings, with day strings cached (millions of calls)."""

    def __init__(self, cfg: CityConfig) -> None:
        self.start = datetime.combine(cfg.start_date, datetime.min.time())
        self.span_s = cfg.span_days * DAY
        first = cfg.start_date
        self._days = [(first + timedelta(days=d)).isoformat() for d in range(cfg.span_days + 800)]

    def day(self, s: int) -> str:
        d = s // DAY
        if 0 <= d < len(self._days):
            return self._days[d]
        return (self.start + timedelta(days=d)).date().isoformat()

    def iso(self, s: int) -> str:
        rem = s % DAY
        return f"{self.day(s)}T{rem // 3600:02d}:{rem % 3600 // 60:02d}:{rem % 60:02d}"

    def seconds(self, iso: str) -> int:
        return int((datetime.fromisoformat(iso) - self.start).total_seconds())

    def weekday(self, s: int) -> int:
        return (self.start.weekday() + s // DAY) % 7

    def ordinal(self, s: int) -> int:
        """Proleptic ordinal of the day holding ``s`` (to compare with dates of birth)."""
        return self.start.toordinal() + s // DAY
