"""The Near Repeat Calculator's conventions, so a unit can reproduce the table it has used for years.

Jerry Ratcliffe's Near Repeat Calculator (NRC 1.3) measures **Manhattan** distance on coordinates read in single
precision; its first distance band is "Same location" (distance exactly 0); a band labelled "a to b" holds
[a-1, b) in whole units (so "1 to 100" is (0, 100) metres, "101 to 200" is [100, 200), "0 to 7" days is
[0, 7), "8 to 14" is [7, 14)); "More than b" holds [b, inf); its "iterations" count the observed data as one
(20 iterations = 19 shuffles of the dates); and it shows observed / the *mean* of the shuffled counts. With
these, `nrc_table` gives the NRC's observed counts exactly (tests/unit/test_trends_nrc.py checks every cell of
two of its published outputs); ratios and p-values come from the shuffles, so they agree within sampling error.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from casegraph.trends.knox import KnoxTable, Seed, near_repeat


def nrc_table(
    xy: Any,
    t: Any,
    *,
    distance_edges: Any,
    time_edges: Any,
    permutations: int = 19,
    seed: Seed = None,
    workers: int = 2,
) -> KnoxTable:
    """The NRC's table: "Same location", then distance bands [0, e1), [e1, e2), ... up to "More than" the
    last edge, by time bands [0, t1), [t1, t2), ... up to "More than" the last (Manhattan, single precision)."""
    edges = np.asarray(distance_edges, dtype=float)
    table = near_repeat(
        xy,
        t,
        space=[0.0, *edges[edges > 0]],
        time_bands=time_edges,
        permutations=permutations,
        seed=seed,
        closed="left",
        workers=workers,
        metric="manhattan",
        single=True,
    )
    return table.with_beyond()


def nrc_label(lo: float, hi: float | None, *, first: str) -> str:
    """The NRC's label of the band [lo, hi) in whole units (hi None or inf: open): 'Same location' (hi = 0),
    '0 to 7' (the first band when first='0'), '1 to 100' (first='1', after 'Same location'), '101 to 200',
    'More than 300'."""
    if hi == 0:
        return "Same location"
    if hi is None or np.isinf(hi):
        return f"More than {lo:g}"
    low = 0 if lo == 0 and first == "0" else lo + 1
    return f"{low:g} to {hi:g}"


def nrc_cells(table: KnoxTable) -> list[dict[str, Any]]:
    """The table's cells with the NRC's labels beside the interval notation."""
    cells = table.cells()
    for cell in cells:
        cell["nrc_space_band"] = nrc_label(cell["space_lo"], cell["space_hi"], first="1")
        cell["nrc_time_band"] = nrc_label(cell["time_lo"], cell["time_hi"], first="0")
    return cells
