"""The README's browser walk-through, literally, on the store `casegraph demo` makes (the defaults a new user runs):
the inbox, the "New tie G01-G02" alert, its evidence, why the groups are tied, an evidence incident, a person.
Any blank name, "(unresolved)" person, HTTP error or console error fails it. Screenshots: artifacts/screenshots/."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from tests.interfaces.test_api import settings_for
from tests.interfaces.test_web import _page, _serve, _signed_in, shot

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def demo_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Any]]:
    """`casegraph demo` as the README's first command runs it (default city), then the workspace over its store."""
    out = tmp_path_factory.mktemp("demo")
    done = subprocess.run(
        [sys.executable, "-m", "casegraph", "demo", "--out", str(out)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    yield from _serve(settings_for(out / "casegraph.duckdb"))


@pytest.fixture(scope="module")
def signed_in_demo(browser: Any, demo_server: tuple[str, Any]) -> Iterator[Any]:
    """The browser that used the demo workspace's one-time sign-in link."""
    yield from _signed_in(browser, demo_server)


@pytest.fixture
def walk(signed_in_demo: Any, demo_server: tuple[str, Any]) -> Iterator[Any]:
    """A signed-in page on the inbox that records every failed request besides console errors."""
    page = _page(signed_in_demo)
    page.on("response", lambda r: failed(page, r))
    page.goto(f"{demo_server[0]}/")
    page.wait_for_selector("#view[data-ready=alerts]")
    yield page
    page.close()


def failed(page: Any, response: Any) -> None:
    if response.status >= 400:
        page.errors.append(f"HTTP {response.status} {response.url}")


def names_in(page: Any, table: str) -> list[str]:
    """The "name" column of the people table under the heading `table`."""
    grid = page.locator(f"h2:has-text('{table}') + table.grid")
    names: list[str] = grid.locator("tbody td:nth-child(3)").all_inner_texts()
    return names


def test_the_readme_walk_through_on_the_demo_store(walk):
    page = walk
    # 1. the inbox: the red "New tie G01-G02" alert
    shot(page, "20-readme-1-inbox")
    page.click("a.alert-title >> text=New tie G01-G02")
    # 2. onset, status and the evidence records (incidents, arrests, contacts) behind the tie
    page.wait_for_selector("#view[data-ready=alerts] form.ack")
    kinds = {r.split(":", 1)[0] for r in page.locator("table.grid tbody td:first-child").all_inner_texts()}
    assert {"incident", "arrest", "contact"} <= kinds, kinds
    about = page.locator("table.grid tbody td:last-child").all_inner_texts()
    assert about and all(a.strip() not in ("", "–") for a in about), about  # whom each record is about
    labels = page.locator("h2:has-text('Numbers behind it') + dl dt").all_inner_texts()
    assert labels and not any("_" in k for k in labels), labels  # no raw keys
    shot(page, "21-readme-2-alert-evidence")
    # 3. why are G01 and G02 tied: observed vs expected, p and q, the joint events month by month
    page.click("#open-tie")
    page.wait_for_selector("#why-body ul.evidence a")
    panel = page.locator("#why-body").inner_text()
    for said in ("expected by chance", "p-value", "q-value", "Joint events month by month"):
        assert said in panel, said
    people = page.locator("#why-body td a[href^='#/person/']").all_inner_texts()
    hex_ids = [p for p in people if re.fullmatch(r"P[0-9a-f]{15}", p)]
    assert people and not hex_ids, hex_ids  # names, not ids
    shot(page, "22-readme-3-why-tied")
    # 4. an evidence incident: narrative, the people (resolved, named), the claims placing them in G01 or G02
    page.locator("#why-body ul.evidence a[href^='#/incident/']").first.click()
    page.wait_for_selector("#view[data-ready=incident]")
    view = page.locator("#view").inner_text()
    assert page.locator(".narrative").inner_text().strip() and ("G01" in view or "G02" in view)
    names = names_in(page, "People involved")
    assert names and all(n.strip() and n != "(no name recorded)" for n in names), names
    assert "(unresolved)" not in view and "not resolved" not in view
    shot(page, "23-readme-4-evidence-incident")
    page.locator("h2:has-text('People involved') + table.grid a[href^='#/person/']").first.click()
    page.wait_for_selector("#view[data-ready=person]")
    shot(page, "24-readme-4-person")
    # a contact behind the tie opens with the people who took part
    page.go_back()
    page.wait_for_selector("#view[data-ready=incident]")
    page.go_back()
    page.wait_for_selector("#view[data-ready=alerts] form.ack")
    page.locator("table.grid a[href^='#/contact/']").first.click()
    page.wait_for_selector("#view[data-ready=contact]")
    assert all(n.strip() for n in names_in(page, "People who took part"))
    shot(page, "25-readme-contact")
    assert page.errors == []


def test_alert_titles_count_in_words(walk):
    titles = walk.locator("a.alert-title").all_inner_texts()
    assert titles and not any(" 1 incidents" in t for t in titles), [t for t in titles if " 1 incidents" in t]


def test_a_tie_the_null_model_does_not_call_significant_is_drawn_apart(walk):
    walk.evaluate("h => { window.location.hash = h; }", "#/chart?group=G03&group=G04")
    walk.wait_for_selector("#view[data-ready=chart]")
    ties = walk.evaluate(
        "() => CG.chartState.graph.filterEdges((e, a) => a.kind === 'group_tie').map((e) => "
        "[CG.chartState.graph.getEdgeAttribute(e, 'significant'), CG.chartState.graph.getEdgeAttribute(e, 'color')])"
    )
    assert ties, "no tie between groups on the chart"
    colours = {significant: colour for significant, colour in ties}
    assert len(set(colours.values())) == len(colours), colours  # significant and not look different
    assert "not significant" in walk.locator(".toggles").inner_text()


def test_the_map_names_its_areas(walk):
    walk.evaluate("h => { window.location.hash = h; }", "#/map?group=G01")
    walk.wait_for_selector("#view[data-ready=map]")
    labels = walk.locator(".area-label").all_inner_texts()
    assert "D07" in labels and "D09" in labels, labels[:5]
    shown = walk.evaluate("() => document.querySelectorAll('.legend-item.toggle:not(.off)').length")
    assert shown == 2  # the first and the latest quarter's area, not every quarter at once
    shot(page=walk, name="26-map-area-labels")


def test_the_inbox_filters_by_kind(walk):
    walk.click(".kinds a >> text=group_tie_new")
    walk.wait_for_selector("#view[data-ready=alerts] .kinds a.active")
    metas = walk.locator("ul.inbox .meta").all_inner_texts()
    assert metas and all(m.startswith("group_tie_new") for m in metas), metas[:3]


def test_an_item_taken_in_an_incident_opens_its_path(walk):
    """From an incident with a stolen phone to the phone's path: taken there first, then where it surfaced, in a
    table, on a time line and on the map."""
    found = walk.evaluate("""async () => {
        const page = await CG.api("/api/incidents?limit=200");
        for (const i of page.items) {
            const d = await CG.api(`/api/incidents/${i.incident_id}?agency=${i.agency}`);
            for (const item of (d.items || []).filter((x) => x.identifier && x.identifier.startsWith("IMEI:"))) {
                const path = await CG.api(`/api/items/${encodeURIComponent(item.identifier)}`);
                if (path.sightings.length > 1) return [i.agency, i.incident_id, item.identifier];
            }
        }
    }""")
    assert found, "no incident of the first 200 lists a phone taken that surfaced again"
    agency, incident, identifier = found
    walk.evaluate("h => { window.location.hash = h; }", f"#/incident/{agency}/{incident}")
    walk.wait_for_selector("#view[data-ready=incident]")
    walk.click(f"a[href='#/item/{identifier.replace(':', '%3A')}']")
    walk.wait_for_selector("#view[data-ready=item]")
    rows = walk.locator("table.grid tbody tr").all_inner_texts()
    assert rows and "taken" in rows[0] and incident in rows[0]
    assert walk.locator("svg.item-timeline circle.stop").count() == len(rows)  # each sighting on the timeline
    assert walk.locator("svg.item-timeline circle.stop.taken").count() == 1
    shot(walk, "27-item-path")
    # its path on the map: a line through every sighting placed in the incidents' projection, theft first
    walk.click("#item-on-map")
    walk.wait_for_selector("#view[data-ready=map]")
    walk.wait_for_selector("#view[data-ready=map] path.item-path")
    placed = walk.evaluate(
        f"async () => (await CG.api('/api/items/{identifier}')).sightings.filter((s) => s.x !== null)"
    )
    assert len(placed) == len(rows) and placed[0]["sighting_kind"] == "taken"
    assert walk.locator("path.item-stop").count() == len(placed)
    drawn = walk.get_attribute("path.item-path", "d") or ""
    assert drawn.count("L") == len(placed) - 1, drawn  # one segment per step of the path
    shot(walk, "28-item-path-map")
    assert walk.errors == []


def test_a_groups_stolen_items_flow_on_the_map(walk):
    """A group's item flows (theft -> where the item surfaced) as lines on the group's map, one per sighting."""
    found = walk.evaluate("""async () => {
        for (const g of (await CG.api("/api/groups")).items) {
            const flows = await CG.api(`/api/groups/${g.group_id}/item-flows`);
            const placed = flows.items.filter((f) => f.from.x !== null && f.to.x !== null);
            if (placed.length) return [g.group_id, placed.length, [...new Set(placed.map((f) => f.city))]];
        }
    }""")
    assert found, "no group of the demo city has stolen items that surfaced"
    group, n, cities = found
    walk.evaluate("h => { window.location.hash = h; }", f"#/map?group={group}")
    walk.wait_for_selector("#view[data-ready=map] path.item-flow")
    assert walk.locator("path.item-flow").count() == n
    legend = walk.locator(".legend").inner_text()
    assert f"where {group}'s stolen items surfaced" in legend and all(c in legend for c in cities)
    shot(walk, "29-group-item-flows")
    assert walk.errors == []
