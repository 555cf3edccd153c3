"""Imports into a server store: a platform admin's re-import of a file of several agencies stores nothing twice,
whatever the admin's working scope and whether the agencies are registered; an agency's user importing rows of
other agencies is refused with the rows and agencies counted."""

from __future__ import annotations

import pytest
from conftest import ADMIN, TASK_FORCE, settings_for, signed_in, superuser

from casegraph.errors import CasegraphError
from casegraph.pipeline import import_file

pytestmark = pytest.mark.server
ROWS = (
    "agency,incident_id,offence,occurred_from\n"
    "metro_pd,MX1,theft,2024-01-01\n"
    "county_so,MX1,theft,2024-01-02\n"
    "transit_pd,MX2,theft,2024-01-03\n"
    "harbour_pd,MX3,theft,2024-01-04\n"  # an agency no user belongs to yet
)


def copies(pg_cluster: dict, url: str) -> list[tuple]:
    with superuser(pg_cluster, url.rsplit("/", 1)[1]) as su:
        return su.execute(
            "SELECT agency, incident_id, count(*) FROM casegraph.incidents WHERE incident_id LIKE 'MX%' "
            "GROUP BY 1, 2 ORDER BY 1, 2"
        ).fetchall()


def test_a_platform_admin_reimporting_several_agencies_rows_stores_nothing_twice(
    server_db, pg_cluster, tmp_path
):
    first = tmp_path / "multi.csv"
    first.write_text(ROWS)
    with signed_in(server_db, ADMIN.user) as admin:
        report = import_file(admin, settings_for(server_db), first, table="incidents")
        assert (report.loaded, report.duplicates, report.rejected) == (4, 0, 0)
    for n, scope in enumerate(
        (None, TASK_FORCE[0])
    ):  # in the admin's own scope, and working for a task force
        again = tmp_path / f"multi_{n}.csv"  # the same rows and one more: another file, not a no-op
        again.write_text(ROWS + f"county_so,MX{5 + n},theft,2024-01-06\n")
        with signed_in(server_db, ADMIN.user, scope=scope) as admin:
            report = import_file(admin, settings_for(server_db), again, table="incidents")
        assert (
            report.summary() == f"{again} -> incidents: 1 loaded, 4 already stored, 0 rejected (5 rows read)"
        )
    assert {n for *_, n in copies(pg_cluster, server_db)} == {1}
    assert len(copies(pg_cluster, server_db)) == 6


def test_an_agency_user_importing_other_agencies_rows_is_refused_with_rows_and_counts(server_db, tmp_path):
    mixed = tmp_path / "mixed.csv"
    mixed.write_text(
        "agency,incident_id,offence,occurred_from\n"
        "metro_pd,MM1,theft,2024-01-01\n"
        "county_so,MM2,theft,2024-01-02\n"
        "county_so,MM3,theft,2024-01-03\n"
        "transit_pd,MM4,theft,2024-01-04\n"
    )
    with signed_in(server_db, "ana_metro") as g, pytest.raises(CasegraphError) as refused:
        import_file(g, settings_for(server_db), mixed, table="incidents")
    assert str(refused.value) == (
        f"{mixed}: 3 of 4 rows belong to agencies other than metro_pd (county_so: 2 rows, 2-3; transit_pd: 1 "
        "row, 4); ana_metro (analyst, metro_pd) imports metro_pd's rows only: split the file, or ask a "
        "platform admin to import it"
    )
    with signed_in(server_db, "ana_metro") as g:
        assert g.scalar("SELECT count(*) FROM incidents WHERE incident_id LIKE 'MM%'") == 0
