"""Which record a column names: id columns of derived and system tables (record_id, incident_a, claim_id ...)
and the column holding that record's agency. Purge, disseminations, `why` and the fairness check use it."""

from __future__ import annotations

import re

from casegraph.schema import Table

# Id columns by stem, and the record table they name: record_id, record_a, incident_b ...
ID_STEMS = {
    "record": "person_records",
    "incident": "incidents",
    "contact": "contacts",
    "claim": "membership_claims",
    "arrest": "arrests",
    "group": "groups",
}
ID_COLUMN = re.compile(
    r"^(?P<stem>" + "|".join(ID_STEMS) + r")(?:_id)?(?:_(?P<side>[abc12lr]|src|dst|from|to|left|right))?$"
)


def id_columns(table: Table) -> list[tuple[str, str, str | None]]:
    """(column, record table it names, the column holding that record's agency or None) for a derived or system
    table. An id's agency is the agency column with its side (incident_a: agency_a), the one declaring it owns
    the id (`owner_of`), or else a plain `agency` column when the table declares no owner."""
    names = set(table.field_names)
    owners = {f.owner_of: f.name for f in table.fields if f.owner_of}
    out = []
    for f in table.fields:
        target = f.references if f.references in ID_STEMS.values() else None
        match = ID_COLUMN.match(f.name)
        if target is None and match and f.type in {"id", "string", "code"}:
            target = ID_STEMS[match["stem"]]
        if target is None:
            continue
        side = match["side"] if match else None
        if side and f"agency_{side}" in names:
            agency_col: str | None = f"agency_{side}"
        elif owners:
            agency_col = owners.get(f.name)
        else:
            agency_col = "agency" if "agency" in names else None
        out.append((f.name, target, agency_col))
    return out
