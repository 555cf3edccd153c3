"""The group report: one self-contained HTML page (no script) an analyst can hand over or print to PDF.

Activity over time, linked incidents and series, members with the criteria and evidence behind each claim,
ties to other groups with strength, p-value, onset and evidence, a map, the alerts. Producing it writes a
dissemination entry (who gave it, to whom, why, which records it held) before the page is returned.
"""

from __future__ import annotations

import base64
import io
from collections import Counter
from datetime import UTC, datetime
from typing import Any

from casegraph.api.pages import templates
from casegraph.api.reads import activity, network, people
from casegraph.safeguards import Session, record_dissemination

MAX_INCIDENTS = 2000


def _svg_data_uri(fig: Any) -> str:
    """A chart as an <img> data URI: an SVG inside <img> cannot run script, and text is drawn as paths."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="svg", bbox_inches="tight")
    return "data:image/svg+xml;base64," + base64.b64encode(buffer.getvalue()).decode()


def activity_chart(totals: list[dict[str, Any]], alerts: list[dict[str, Any]]) -> str | None:
    if not totals:
        return None
    from matplotlib.figure import Figure

    fig = Figure(figsize=(9, 2.8))
    ax = fig.add_subplot()
    ax.bar(
        [t["period_start"] for t in totals],
        [t["incidents"] for t in totals],
        width=20,
        color="#1f77b4",
        label="linked incidents",
    )
    for a in alerts:
        if a.get("onset"):
            ax.axvline(
                a["onset"], color="#d62728" if "tie" in a["kind"] else "#ff7f0e", linestyle="--", linewidth=1
            )
    ax.set_ylabel("incidents per month")
    ax.legend(loc="upper left", frameon=False)
    return _svg_data_uri(fig)


def map_chart(
    areas: list[dict[str, Any]], points: list[dict[str, Any]], hulls: list[dict[str, Any]]
) -> str | None:
    if not points and not areas:
        return None
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7, 6))
    ax = fig.add_subplot()
    for a in areas:
        xs, ys = zip(*a["ring"], strict=True)
        ax.fill(xs, ys, facecolor="#f2f2f2", edgecolor="#999", linewidth=0.6)
    for i, h in enumerate(hulls):
        xs, ys = zip(*h["ring"], strict=True)
        ax.plot(xs, ys, color=(0.6 - 0.5 * i / max(1, len(hulls) - 1), 0.2, 0.6), linewidth=1.2)
    if points:
        ax.scatter([p["x"] for p in points], [p["y"] for p in points], s=6, color="#d62728", alpha=0.7)
    ax.set_aspect("equal")
    ax.set_axis_off()
    return _svg_data_uri(fig)


def gather(g: Session, name_or_id: str) -> dict[str, Any]:
    """Everything the report shows, read through the safeguards as the signed-in user."""
    detail = people.group(g, name_or_id)
    gid = detail["group"]["group_id"]
    acts = activity.activity(g, gid, "month")
    linked = people.group_incidents(g, gid, limit=MAX_INCIDENTS, offset=0)
    ties = network.ties(g, gid, limit=100, offset=0)
    ties["items"] = [
        {**t, "evidence_records": network.tie(g, *t["pair"])["evidence_records"]} for t in ties["items"]
    ]
    alerts = activity.alerts(g, status=None, kind=None, group=gid, limit=200, offset=0)
    series = Counter(i["series_id"] for i in linked["items"] if i.get("series_id"))
    return {
        **detail,
        "activity": acts,
        "incidents": linked,
        "ties": ties,
        "alerts": alerts,
        "series": series.most_common(30),
        "areas": activity.areas(g)["items"],
        "hulls": activity.group_areas(g, gid, "quarter")["items"],
    }


def items_of(data: dict[str, Any]) -> list[tuple[str, str | None, str]]:
    """The records the report holds, for the dissemination log: the group, claims, person records, incidents."""
    g = data["group"]
    out = [("groups", g["agency"], g["group_id"])]
    out += [("membership_claims", m["agency"], m["claim_id"]) for m in data["members"]]
    out += [("person_records", m["agency"], m["record_id"]) for m in data["members"]]
    out += [("incidents", i["agency"], i["incident_id"]) for i in data["incidents"]["items"]]
    return sorted(set(out), key=lambda x: (x[0], x[1] or "", x[2]))


def build_report(
    g: Session, name_or_id: str, *, recipient: str, purpose: str, file: str | None = None
) -> str:
    """The report's HTML; the dissemination is recorded first (refused without a recipient and a purpose)."""
    data = gather(g, name_or_id)
    gid = data["group"]["group_id"]
    did = record_dissemination(
        g, recipient=recipient, purpose=purpose, what=f"group report {gid}", items=items_of(data), file=file
    )
    return templates.get_template("report.html").render(
        **data,
        dissemination_id=did,
        recipient=recipient,
        purpose=purpose,
        user=g.user,
        made_at=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        activity_svg=activity_chart(data["activity"]["totals"], data["alerts"]["items"]),
        map_svg=map_chart(data["areas"], _points(g, gid), data["hulls"]),
    )


def _points(g: Session, gid: str) -> list[dict[str, Any]]:
    return g.arrow("SELECT x, y FROM group_incidents WHERE group_id = ? AND x IS NOT NULL", [gid]).to_pylist()
