"""PNG charts (matplotlib, no pyplot state, Agg renderer): a group's activity over time with its alerts
marked, and a map of incidents and emerging hot spot classes (no basemap)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Patch, Rectangle

ALERT_COLOURS = {"group_spread": "#d62728", "group_growth": "#ff7f0e"}
CLASS_COLOURS = {
    "new hot spot": "#fdd0a2",
    "consecutive hot spot": "#fdae6b",
    "intensifying hot spot": "#e6550d",
    "persistent hot spot": "#a63603",
    "diminishing hot spot": "#fd8d3c",
    "sporadic hot spot": "#fee6ce",
    "oscillating hot spot": "#f16913",
    "historical hot spot": "#8c6d31",
    "new cold spot": "#c6dbef",
    "consecutive cold spot": "#9ecae1",
    "intensifying cold spot": "#3182bd",
    "persistent cold spot": "#08519c",
    "diminishing cold spot": "#6baed6",
    "sporadic cold spot": "#deebf7",
    "oscillating cold spot": "#4292c6",
    "historical cold spot": "#636363",
}


def _save(fig: Figure, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    FigureCanvasAgg(fig)
    fig.savefig(path, format="png", dpi=110)
    return path


def activity_chart(
    periods: pd.DatetimeIndex,
    counts: Any,
    path: str | Path,
    *,
    title: str,
    alerts: pd.DataFrame | None = None,
    areas: Any = None,
) -> Path:
    """Bars of linked incidents per period, the cumulative areas reached (if given), alert onsets as lines."""
    fig = Figure(figsize=(10, 4.2))
    ax = fig.add_subplot()
    width = (periods[1] - periods[0]).days * 0.85 if len(periods) > 1 else 5
    ax.bar(periods, np.asarray(counts), width=width, color="#4c72b0", align="edge", label="linked incidents")
    ax.set_ylabel("linked incidents")
    ax.set_title(title, fontsize=11)
    if areas is not None:
        twin = ax.twinx()
        twin.step(periods, np.asarray(areas), where="post", color="#55a868", label="areas reached")
        twin.set_ylabel("areas reached (cumulative)")
        twin.set_ylim(0, max(1, float(np.max(areas))) * 1.3)
    for _, alert in (alerts if alerts is not None else pd.DataFrame()).iterrows():
        colour = ALERT_COLOURS.get(alert["kind"], "#444444")
        ax.axvline(pd.Timestamp(alert["onset"]), color=colour, linestyle="--", linewidth=1.4)
        label = alert.get("label") or alert["kind"].replace("group_", "")
        ax.annotate(
            label,
            (pd.Timestamp(alert["onset"]), ax.get_ylim()[1] * 0.95),
            rotation=90,
            fontsize=8,
            color=colour,
            ha="right",
            va="top",
        )
    handles = [Patch(color="#4c72b0", label="linked incidents")]
    handles += [Patch(color=c, label=k.replace("group_", "") + " alert") for k, c in ALERT_COLOURS.items()]
    ax.legend(handles=handles, loc="upper left", fontsize=8)
    fig.autofmt_xdate()
    fig.tight_layout()
    return _save(fig, path)


def hotspot_map(
    points: Any, cells: pd.DataFrame, path: str | Path, *, cell: float, title: str = "Emerging hot spots"
) -> Path:
    """Incidents as dots and grid cells filled by emerging hot spot class (cells with no pattern omitted)."""
    fig = Figure(figsize=(8, 8))
    ax = fig.add_subplot()
    pts = np.asarray(points, float)
    if len(pts):
        ax.scatter(pts[:, 0], pts[:, 1], s=1, color="#9e9e9e", alpha=0.5, linewidths=0)
    shown = cells[cells["class"] != "no pattern"] if len(cells) else cells
    for _, c in shown.iterrows():
        ax.add_patch(
            Rectangle(
                (c["x"] - cell / 2, c["y"] - cell / 2),
                cell,
                cell,
                color=CLASS_COLOURS.get(c["class"], "#000000"),
                alpha=0.85,
                linewidth=0,
            )
        )
    present = [k for k in CLASS_COLOURS if len(shown) and (shown["class"] == k).any()]
    ax.legend(handles=[Patch(color=CLASS_COLOURS[k], label=k) for k in present], loc="lower left", fontsize=7)
    ax.set_aspect("equal")
    ax.set_title(title, fontsize=11)
    ax.set_xlabel("x (m)")
    ax.set_ylabel("y (m)")
    fig.tight_layout()
    return _save(fig, path)


def near_repeat_chart(cells: list[dict[str, Any]], path: str | Path, *, alpha: float = 0.05) -> Path:
    """The near-repeat table as a heat map: observed pairs over the permutations' median in each distance x time
    band, the ratio written in each cell, starred where its permutation p-value is at most `alpha`."""
    frame = pd.DataFrame(cells)
    spaces, times = list(dict.fromkeys(frame["space_band"])), list(dict.fromkeys(frame["time_band"]))
    ratio = frame.pivot(index="space_band", columns="time_band", values="ratio_median").loc[spaces, times]
    p = frame.pivot(index="space_band", columns="time_band", values="p").loc[spaces, times]
    fig = Figure(figsize=(1.6 + 1.3 * len(times), 1.2 + 0.55 * len(spaces)))
    ax = fig.add_subplot()
    values = ratio.to_numpy(float)
    top = max(1.5, float(np.nanmax(values)))
    shown = ax.imshow(values, cmap="Reds", vmin=1.0, vmax=top, aspect="auto")
    for (s, t), value in np.ndenumerate(values):
        star = "*" if p.iat[s, t] is not None and p.iat[s, t] <= alpha else ""
        ink = "white" if value > 1.0 + 0.6 * (top - 1.0) else "black"  # readable on the darkest cells
        ax.text(t, s, f"{value:.2f}{star}", ha="center", va="center", fontsize=9, color=ink)
    ax.set_xticks(range(len(times)), [f"{b} days" for b in times])
    ax.set_yticks(range(len(spaces)), [f"{b} m" for b in spaces])
    ax.set_xlabel("days apart")
    ax.set_ylabel("metres apart")
    ax.set_title(f"Near repeats: observed / expected pairs (* p <= {alpha})", fontsize=10)
    fig.colorbar(shown, ax=ax, label="observed / expected")
    fig.tight_layout()
    return _save(fig, path)
