"""The dissemination log (28 CFR 23.20(g)): every export or report, who gave what to whom and why.

Exports and reports call `record_dissemination` with the frame they give out; the records it holds (by their
id columns) are listed one per row, so `who_received` answers "who has been given this person's record".
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa

from casegraph.errors import PolicyDenied
from casegraph.safeguards.ids import ID_COLUMN, ID_STEMS
from casegraph.safeguards.session import Session
from casegraph.store.base import Frame

Item = tuple[str, str | None, str]  # (table, agency, id)


def items_of(data: Frame, default_agency: str | None) -> list[Item]:
    """The records a frame names: each id column (record_id, incident_a ...) with its agency column."""
    table = data if isinstance(data, pa.Table) else pa.Table.from_pandas(data, preserve_index=False)
    names = set(table.column_names)
    found: set[Item] = set()
    for col in table.column_names:
        match = ID_COLUMN.match(col)
        if not match:
            continue
        side = match["side"]
        agency_col = (
            f"agency_{side}"
            if side and f"agency_{side}" in names
            else "agency"
            if "agency" in names
            else None
        )
        ids = table.column(col).to_pylist()
        agencies = table.column(agency_col).to_pylist() if agency_col else [default_agency] * len(ids)
        found.update(
            (ID_STEMS[match["stem"]], a, str(i)) for i, a in zip(ids, agencies, strict=True) if i is not None
        )
    return sorted(found, key=lambda x: (x[0], x[1] or "", x[2]))


def record_dissemination(
    g: Session,
    *,
    recipient: str,
    purpose: str,
    what: str,
    data: Frame | None = None,
    items: list[Item] | None = None,
    file: str | None = None,
) -> str:
    """Log one dissemination (before the file is handed over); returns its id."""
    g.require("export", what)
    if not recipient.strip() or not purpose.strip():
        raise PolicyDenied(
            "a dissemination needs a recipient and a purpose (28 CFR 23.20(g): need and right to know)"
        )
    listed = items if items is not None else (items_of(data, g.user.agency) if data is not None else [])
    rows = len(data) if data is not None else len(listed)
    did = f"D-{datetime.now(UTC):%Y%m%d}-{uuid.uuid4().hex[:10]}"
    now = datetime.now(UTC).replace(tzinfo=None)
    with g.transaction():
        g.inner.execute(
            "INSERT INTO disseminations VALUES (?,?,?,?,?,?,?,?,?,?)",
            [did, now, g.user.user_id, g.user.agency, recipient, purpose, what, file, rows, None],
        )
        frame = pa.table(
            {
                "dissemination_id": [did] * len(listed),
                "table_name": [i[0] for i in listed],
                "agency": [i[1] for i in listed],
                "record_key": [i[2] for i in listed],
            }
        )
        with g.inner.registered("_tmp_safeguards_items", frame):
            g.inner.execute("INSERT INTO dissemination_items SELECT * FROM _tmp_safeguards_items")
    g.log("disseminate", what, f"{did} to {recipient} for {purpose}: {len(listed)} records", rows=rows)
    g.inner.execute("UPDATE disseminations SET audit_seq = ? WHERE dissemination_id = ?", [g.log_.seq, did])
    return did


def person_keys(g: Session, person: str) -> dict[str, list[str]]:
    """Record ids (through person_identities when resolve has run), person ids and claim ids of a person."""
    records, persons = {person}, {person}
    if "person_identities" in g.table_names():
        rows = g.rows(
            "SELECT record_id, person_id FROM person_identities WHERE person_id IN (SELECT person_id FROM "
            "person_identities WHERE record_id = ? OR person_id = ?)",
            [person, person],
        )
        records |= {r for r, _ in rows}
        persons |= {p for _, p in rows}
    found = g.rows(
        "SELECT claim_id FROM membership_claims WHERE list_contains(?, record_id)", [sorted(records)]
    )
    return {"records": sorted(records), "persons": sorted(persons), "claims": sorted(c for (c,) in found)}


def who_received(g: Session, person_or_record: str) -> list[dict[str, Any]]:
    """Every dissemination that held this person's records or claims (or the record with this id)."""
    g.require("audit", person_or_record)
    keys = person_keys(g, person_or_record)
    mine = "" if g.user.agency is None or g.user.role == "admin" else "AND (d.agency = ? OR i.agency = ?)"
    params: list[Any] = [keys["records"], keys["claims"], person_or_record]
    params += [] if not mine else [g.user.agency, g.user.agency]
    df = g.inner.df(
        "SELECT d.dissemination_id, d.at, d.user_id, d.agency, d.recipient, d.purpose, d.what, d.file, "
        "string_agg(DISTINCT i.table_name || ':' || i.record_key, ', ') AS records "
        "FROM dissemination_items i JOIN disseminations d USING (dissemination_id) "
        "WHERE ((i.table_name = 'person_records' AND list_contains(?, i.record_key)) "
        "OR (i.table_name = 'membership_claims' AND list_contains(?, i.record_key)) OR i.record_key = ?) "
        f"{mine} GROUP BY ALL ORDER BY d.at",
        params,
    )
    g.log("read", "disseminations", f"who received {person_or_record}", rows=len(df))
    return df.to_dict("records")
