"""Candidate pairs by blocking, in the store's SQL engine: the work grows with the candidates, not with n².

Two incidents are candidates when they share an offence family (optional), their time windows lie within
`gap` hours of each other (optional) and their places within `dist` metres (optional). The join is an
equi-join on (family, time bucket, grid cell): each time window, widened by gap/2 on both sides, is
exploded over the gap-wide buckets it covers and a pair is emitted only in the first bucket both share;
one side is exploded over the 3 x 3 neighbouring cells. Exact filters then keep the true candidates.
"""

from __future__ import annotations

from dataclasses import dataclass

from casegraph.store import quote

NEIGHBOURS = ", ".join(f"({dx}, {dy})" for dx in (-1, 0, 1) for dy in (-1, 0, 1))


@dataclass(frozen=True)
class Blocking:
    """Effective blocking limits of a run (0 disables a limit)."""

    gap_hours: float
    distance_m: float
    same_family: bool

    def params(self) -> dict[str, float]:
        return {"gap": self.gap_hours or 1.0, "dist": self.distance_m or 1.0}

    def as_dict(self) -> dict[str, float | bool]:
        return {
            "max_gap_days": round(self.gap_hours / 24.0, 3),
            "max_distance_m": round(self.distance_m, 1),
            "same_family": self.same_family,
        }


def _keyed_sql(index: str, blocking: Blocking, subset: str | None) -> str:
    """The index rows of one run with their blocking keys: family, grid cell and first/last time bucket."""
    family = "family" if blocking.same_family else "''"
    cell = (
        ("CAST(floor(x / $dist) AS BIGINT)", "CAST(floor(y / $dist) AS BIGINT)")
        if blocking.distance_m
        else ("0", "0")
    )
    if blocking.gap_hours:
        buckets = (
            "CAST(floor((t_lo - $gap / 2) / $gap) AS BIGINT), CAST(floor((t_hi + $gap / 2) / $gap) AS BIGINT)"
        )
    else:
        buckets = "0, 0"
    where = ["run_id = $run"]
    if blocking.distance_m:
        where.append("x IS NOT NULL AND y IS NOT NULL")
    if subset:
        where.append(f"row_no IN (SELECT row_no FROM {quote(subset)})")
    b0, b1 = buckets.split(", ")
    return (
        f"SELECT row_no, coalesce({family}, '') AS family, t_lo, t_hi, x, y, {cell[0]} AS cx, {cell[1]} AS cy, "
        f"{b0} AS b0, {b1} AS b1 FROM {quote(index)} WHERE {' AND '.join(where)}"
    )


def _filters(blocking: Blocking) -> list[str]:
    conditions = ["a.tb = greatest(a.b0, n.b0)"]
    if blocking.gap_hours:
        conditions.append("greatest(a.t_lo - n.t_hi, n.t_lo - a.t_hi) <= $gap")
    if blocking.distance_m:
        conditions.append("(a.x - n.x) * (a.x - n.x) + (a.y - n.y) * (a.y - n.y) <= $dist * $dist")
    return conditions


def candidate_pairs_sql(
    index: str,
    blocking: Blocking,
    *,
    subset: str | None = None,
    left: str | None = None,
    ordered: bool = True,
    first_rows: bool = False,
) -> str:
    """Pairs (i, j) of row numbers; parameters $run, $gap (hours) and $dist (metres).

    `subset` restricts both sides to the row numbers in a relation; `left` restricts the first side only
    (then every neighbour is listed, not only j > i, e.g. to count candidates per incident); `first_rows`
    keeps the pairs whose first row i is in [$lo, $hi) (one chunk of a run's pairs).
    """
    shifts = f"(VALUES {NEIGHBOURS})" if blocking.distance_m else "(VALUES (0, 0))"
    left_only = f" WHERE row_no IN (SELECT row_no FROM {quote(left)})" if left else ""
    if first_rows:
        left_only = " WHERE row_no >= $lo AND row_no < $hi"
    later = " WHERE e.row_no >= $lo" if first_rows else ""
    order = "a.row_no < n.row_no" if ordered else "a.row_no <> n.row_no"
    return (
        f"WITH keyed AS ({_keyed_sql(index, blocking, subset)}), "
        "exploded AS (SELECT keyed.*, unnest(range(b0, b1 + 1)) AS tb FROM keyed), "
        f"lefts AS (SELECT * FROM exploded{left_only}), "
        f"shifted AS (SELECT e.*, e.cx + d.dx AS nx, e.cy + d.dy AS ny FROM exploded e, {shifts} AS d(dx, dy)"
        f"{later}) "
        "SELECT a.row_no AS i, n.row_no AS j FROM lefts a JOIN shifted n "
        "ON a.family = n.family AND a.tb = n.tb AND a.cx = n.nx AND a.cy = n.ny "
        f"WHERE {order} AND {' AND '.join(_filters(blocking))}"
    )


def count_candidates_sql(index: str, blocking: Blocking, sample: str) -> str:
    """Candidates of each sampled row (all neighbours, both directions)."""
    pairs = candidate_pairs_sql(index, blocking, left=sample, ordered=False)
    return f"SELECT count(*) FROM ({pairs})"


def seed_candidates_sql(index: str, blocking: Blocking) -> str:
    """Index rows that are candidates for one seed; parameters $run, $family, $lo, $hi, $x, $y, $gap, $dist."""
    where = ["run_id = $run"]
    if blocking.same_family:
        where.append("family = $family")
    if blocking.gap_hours:
        where.append("t_lo <= $hi + $gap AND t_hi >= $lo - $gap")
    if blocking.distance_m:
        where.append("x BETWEEN $x - $dist AND $x + $dist AND y BETWEEN $y - $dist AND $y + $dist")
        where.append("(x - $x) * (x - $x) + (y - $y) * (y - $y) <= $dist * $dist")
    return (
        f"SELECT row_no, agency, incident_id, encoded FROM {quote(index)} WHERE {' AND '.join(where)} "
        "ORDER BY row_no"
    )


def shrunk(blocking: Blocking, factor: float) -> Blocking:
    """Both limits scaled so the expected candidates scale by `factor` (pairs grow as gap x distance²)."""
    dims = (1 if blocking.gap_hours else 0) + (2 if blocking.distance_m else 0)
    if dims == 0 or factor >= 1:
        return blocking
    scale = factor ** (1.0 / dims)
    return Blocking(blocking.gap_hours * scale, blocking.distance_m * scale, blocking.same_family)
