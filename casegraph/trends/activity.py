"""A group's activity over time and place: periods, baseline territory, spread into new areas.

Input is the `links` frame (one row per group x incident: group_id, agency, incident_id, via, members,
evidence, occurred_on, area, x, y) and the members' `contacts` frame (group_id, area, seen_on, why).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import numpy as np
import pandas as pd

ALL_AREAS = "*"


def period_start(dates: pd.Series, kind: str) -> pd.Series:
    """First day of each date's week (Monday) or month."""
    d = pd.to_datetime(dates)
    if kind == "week":
        return (d - pd.to_timedelta(d.dt.weekday, unit="D")).dt.normalize()
    if kind == "month":
        return d.dt.to_period("M").dt.start_time
    raise ValueError(f"period kind must be week or month, not {kind!r}")


def grid_area(x: pd.Series, y: pd.Series, cell: float) -> pd.Series:
    """A grid-cell label 'g<col>_<row>' for each point (areas when the data name none)."""
    col, row = np.floor(x / cell), np.floor(y / cell)
    labels = "g" + col.astype("Int64").astype(str) + "_" + row.astype("Int64").astype(str)
    return labels.where(x.notna() & y.notna())


@dataclass
class Baseline:
    group_id: str
    start: date
    end: date  # exclusive
    areas: list[str]
    evidence: dict[str, list[str]] = field(default_factory=dict)  # area -> first evidence ids


def baselines(
    links: pd.DataFrame, contacts: pd.DataFrame | None, days: int, rule: SpreadRule | None = None
) -> dict[str, Baseline]:
    """Per group: from its first evidence, `days` long; areas with its incidents (or members' contacts) then.
    With a `rule`, incidents make an area home only when they meet the evidence a spread alert needs: one
    wrong series link must not make an area home any more than it may raise a spread into it."""
    seen = links[["group_id", "area", "occurred_on"]].assign(
        why="incident:" + links["incident_id"].astype(str)
    )
    if rule is not None:
        seen = seen.loc[_supported(links, days, rule).to_numpy(dtype=bool)]
    if contacts is not None and len(contacts):
        seen = pd.concat([seen, contacts.rename(columns={"seen_on": "occurred_on"})], ignore_index=True)
    seen["occurred_on"] = pd.to_datetime(seen["occurred_on"]).dt.date
    out = {}
    for group_id, rows in seen.groupby("group_id", sort=True):
        start = min(rows["occurred_on"])
        end = start + timedelta(days=days)
        early = rows[(rows["occurred_on"] < end) & rows["area"].notna()].sort_values("occurred_on")
        evidence = {a: list(g["why"].head(3)) for a, g in early.groupby("area", sort=True)}
        out[str(group_id)] = Baseline(str(group_id), start, end, sorted(evidence), evidence)
    return out


def _supported(links: pd.DataFrame, days: int, rule: SpreadRule) -> pd.Series:
    """Per link row: does its group's evidence in its area during the group's baseline meet `rule`?"""
    dated = pd.to_datetime(links["occurred_on"])
    end = dated.groupby(links["group_id"]).transform("min") + pd.Timedelta(days=days)
    early = (
        links[dated < end].assign(occurred_on=dated[dated < end]).sort_values(["occurred_on", "incident_id"])
    )
    homes = {key for key, rows in early.groupby(["group_id", "area"]) if rule.first_window(rows) is not None}
    return pd.Series(
        [(g, a) in homes for g, a in zip(links["group_id"], links["area"], strict=True)], index=links.index
    )


@dataclass
class Spread:
    """A group's first incidents in an area outside its baseline."""

    group_id: str
    area: str
    first_date: date  # first incident of the window that raised the alert
    raised_on: date  # the date the confirming incident made it an alert
    incidents: list[str]  # incident ids in the area within the window (the evidence)
    total_in_area: int
    baseline: Baseline
    first_seen: date  # the group's first incident in the area (may be an earlier, unconfirmed one)

    def as_dict(self) -> dict[str, Any]:
        return {
            "group_id": self.group_id,
            "area": self.area,
            "first_date": self.first_date.isoformat(),
            "raised_on": self.raised_on.isoformat(),
            "first_seen": self.first_seen.isoformat(),
            "incidents": self.incidents,
            "total_in_area": self.total_in_area,
        }


def _corroborated(window: pd.DataFrame) -> bool:
    """A claimed member's own incident, or incidents from two linkage series (one series may be a wrong link)."""
    if (window["via"] == "member").any():
        return True
    series = {e for ev in window["evidence"] for e in ev if str(e).startswith("series:")}
    return len(series) >= 2


@dataclass(frozen=True)
class SpreadRule:
    """When incidents in a new area raise a spread alert (the TrendsSettings values)."""

    min_incidents: int = 2  # incidents within the window ...
    window_days: int = 60
    corroborate: bool = True  # ... with a member's own incident or two linkage series among them
    member_incidents: int = 1  # or this many incidents in which a claimed member took part

    def first_window(self, rows: pd.DataFrame) -> pd.DataFrame | None:
        """The first window of `window_days`, ending at an incident, that meets the rule."""
        days = pd.to_datetime(rows["occurred_on"])
        for k in range(len(rows)):
            window = rows[
                (days > days.iloc[k] - pd.Timedelta(days=self.window_days)) & (days <= days.iloc[k])
            ]
            if (window["via"] == "member").sum() >= self.member_incidents:
                return window
            if len(window) >= self.min_incidents and (not self.corroborate or _corroborated(window)):
                return window
        return None


def spreads(links: pd.DataFrame, bases: dict[str, Baseline], rule: SpreadRule) -> list[Spread]:
    """Areas a group reached after its baseline, each once the incidents there meet the rule."""
    found = []
    dated = links[links["area"].notna()].assign(occurred_on=pd.to_datetime(links["occurred_on"]).dt.date)
    for (group_id, area), rows in dated.groupby(["group_id", "area"], sort=True):
        base = bases.get(str(group_id))
        if base is None or area in base.areas:
            continue
        rows = rows.sort_values(["occurred_on", "incident_id"])
        after = rows[rows["occurred_on"] >= base.end]  # earlier rows were too weak to make the area home
        if after.empty:
            continue
        window = rule.first_window(after)
        if window is None:
            continue
        found.append(
            Spread(
                str(group_id),
                str(area),
                window["occurred_on"].iloc[0],
                window["occurred_on"].iloc[-1],
                [str(i) for i in window["incident_id"]],
                len(rows),
                base,
                rows["occurred_on"].iloc[0],
            )
        )
    return sorted(found, key=lambda s: (s.raised_on, s.group_id, s.area))


def _members_per(frame: pd.DataFrame, keys: list[str]) -> pd.Series:
    exploded = frame[[*keys, "members"]].explode("members").dropna(subset=["members"])
    return exploded.groupby(keys)["members"].nunique()


def _standard_distance(frame: pd.DataFrame) -> float | None:
    pts = frame[["x", "y"]].dropna().to_numpy(float)
    if len(pts) < 2:
        return None
    return float(np.sqrt(((pts - pts.mean(axis=0)) ** 2).sum(axis=1).mean()))


def first_seen(links: pd.DataFrame, bases: dict[str, Baseline]) -> pd.DataFrame:
    """(group_id, area, first_on) of areas outside the group's baseline, first reached after it."""
    located = links[links["area"].notna()]
    ends = located["group_id"].map(lambda g: bases[g].end if g in bases else date.max)
    home = [
        g in bases and a in bases[g].areas for g, a in zip(located["group_id"], located["area"], strict=True)
    ]
    later = located[(pd.to_datetime(located["occurred_on"]).dt.date >= ends) & ~np.asarray(home, dtype=bool)]
    rows = later.groupby(["group_id", "area"], as_index=False)["occurred_on"].min()
    return rows.rename(columns={"occurred_on": "first_on"})


def _area_rows(frame: pd.DataFrame, new: pd.DataFrame) -> pd.DataFrame:
    keys = ["group_id", "period_start", "area"]
    located = frame[frame["area"].notna()]
    rows = located.groupby(keys).agg(
        incidents=("incident_id", "size"), member_incidents=("via", lambda v: int((v == "member").sum()))
    )
    rows["active_members"] = _members_per(located, keys)
    rows = rows.reset_index()
    flags = new.assign(new_areas=1)[[*keys, "new_areas"]]
    rows = rows.merge(flags, on=keys, how="left")
    return rows.assign(new_areas=rows["new_areas"].fillna(0).astype(int))


def _total_rows(frame: pd.DataFrame, new: pd.DataFrame) -> pd.DataFrame:
    keys = ["group_id", "period_start"]
    rows = frame.groupby(keys).agg(
        incidents=("incident_id", "size"),
        member_incidents=("via", lambda v: int((v == "member").sum())),
        areas=("area", "nunique"),
    )
    rows["active_members"] = _members_per(frame, keys)
    rows["new_areas"] = new.groupby(keys).size()
    rows["extent_m"] = pd.Series({k: _standard_distance(g) for k, g in frame.groupby(keys)}, dtype=float)
    firsts = frame[frame["area"].notna()].groupby(["group_id", "area"])["period_start"].min()
    reached = firsts.reset_index().groupby(keys).size()
    rows["cumulative_areas"] = reached.reindex(rows.index, fill_value=0).groupby(level=0).cumsum()
    rows = rows.reset_index().assign(area=ALL_AREAS)
    return rows.assign(new_areas=rows["new_areas"].fillna(0).astype(int))


def activity_rows(links: pd.DataFrame, bases: dict[str, Baseline]) -> pd.DataFrame:
    """group_activity rows: per group x period (week, month) x area, and '*' totals per period."""
    parts = []
    if links.empty:
        return pd.DataFrame()
    new = first_seen(links, bases)
    for kind in ("week", "month"):
        frame = links.assign(period_start=period_start(links["occurred_on"], kind))
        new_k = new.assign(period_start=period_start(new["first_on"], kind))
        for rows in (_area_rows(frame, new_k), _total_rows(frame, new_k)):
            parts.append(rows.assign(period_kind=kind))
    out = pd.concat(parts, ignore_index=True)
    out["period_start"] = pd.to_datetime(out["period_start"]).dt.date
    out["activity_id"] = (
        out["group_id"]
        + "|"
        + out["period_kind"]
        + "|"
        + out["period_start"].astype(str)
        + "|"
        + out["area"].astype(str)
    )
    out["active_members"] = out["active_members"].fillna(0).astype(int)
    return out
