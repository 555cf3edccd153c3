"""`casegraph audit fairness`: claim and link rates broken down by the protected descriptive fields.

Protected fields (person_records.race, incidents.suspect_race) are never features; they are stored as
reported descriptions so that disparities can be seen. For each, and each value, this reports how often a
record is the subject of a passing membership claim, or named by each derived table (linked to another
record, tied, in a series ...), and the ratio to the overall rate; a ratio outside the four-fifths band on a
group of at least fairness_min_group records is flagged for a supervisor to look at.
"""

from __future__ import annotations

from typing import Any

from casegraph.safeguards.ids import id_columns
from casegraph.safeguards.session import Session
from casegraph.schema import model
from casegraph.store import quote

NOT_RECORDED = "(not recorded)"


def _metrics(g: Session, table: str) -> dict[str, str]:
    """metric name -> condition on row p of `table` (its key and agency)."""
    key = quote(model.table(table).key)
    out: dict[str, str] = {}
    if table == "person_records":
        out["claimed"] = (
            "EXISTS (SELECT 1 FROM membership_claims c WHERE c.agency = p.agency "
            "AND c.record_id = p.record_id)"
        )
    present = set(g.table_names())
    for derived in model.tables.values():
        if derived.kind != "derived" or derived.name not in present:
            continue
        extra = " AND d.cluster_size > 1" if "cluster_size" in derived.field_names else ""
        conds = [
            f"d.{quote(col)} = p.{key}" + (f" AND d.{quote(agency)} = p.agency" if agency else "")
            for col, target, agency in id_columns(derived)
            if target == table
        ]
        if conds:
            name = "linked_records" if extra else f"in_{derived.name}"
            out[name] = f"EXISTS (SELECT 1 FROM {quote(derived.name)} d WHERE ({' OR '.join(conds)}){extra})"
    return out


def _breakdown(g: Session, table: str, field: str) -> dict[str, Any]:
    metrics = _metrics(g, table)
    value = f"coalesce(nullif(trim(p.{quote(field)}), ''), '{NOT_RECORDED}')"
    counts = "".join(f", count(*) FILTER (WHERE {cond}) AS {quote(m)}" for m, cond in metrics.items())
    sql = f"SELECT {value} AS value, count(*) AS n{counts} FROM {quote(table)} p GROUP BY 1 ORDER BY 2 DESC"
    rows = g.inner.df(sql).to_dict("records")
    total = sum(int(r["n"]) for r in rows)
    overall = {m: (sum(int(r[m]) for r in rows) / total if total else None) for m in metrics}
    band = g.rules.fairness_band
    groups = []
    for r in rows:
        entry: dict[str, Any] = {"value": r["value"], "records": int(r["n"])}
        for m in metrics:
            rate = int(r[m]) / int(r["n"]) if r["n"] else None
            base = overall[m]
            ratio = rate / base if rate is not None and base else None
            flagged = bool(
                ratio is not None
                and int(r["n"]) >= g.rules.fairness_min_group
                and (ratio < band or ratio > 1 / band)
            )
            entry[m] = {"count": int(r[m]), "rate": rate, "ratio_to_overall": ratio, "flagged": flagged}
        groups.append(entry)
    return {
        "table": table,
        "field": field,
        "records": total,
        "overall": overall,
        "metrics": list(metrics),
        "groups": groups,
    }


def fairness(g: Session) -> dict[str, Any]:
    """Rates per value of every protected field, for the agencies the user can see."""
    g.require("fairness", "fairness check")
    fields = sorted(model.protected_fields())
    out = [_breakdown(g, table, field) for table, field in fields]
    flagged = [
        f"{b['table']}.{b['field']} = {grp['value']}: {m} rate ratio {grp[m]['ratio_to_overall']:.2f}"
        for b in out
        for grp in b["groups"]
        for m in b["metrics"]
        if grp[m]["flagged"]
    ]
    g.log("fairness", ",".join(f"{t}.{f}" for t, f in fields), f"{len(flagged)} flagged", rows=len(flagged))
    return {
        "band": [g.rules.fairness_band, 1 / g.rules.fairness_band],
        "min_group": g.rules.fairness_min_group,
        "breakdowns": out,
        "flagged": flagged,
        "note": "Rates compare groups of records as recorded, not people; a flag asks a supervisor to look at "
        "why (where records come from, how claims are entered), it does not say why by itself.",
    }
