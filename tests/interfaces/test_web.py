"""The workspace in headless Chromium (Debian's /usr/bin/chromium driven by Playwright): sign in, open each view
on a synthetic city, follow an alert to its evidence, acknowledge it, check that markup in a narrative stays text.
Screenshots are kept in artifacts/screenshots/."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from casegraph.api import create_app
from casegraph.pipeline import run_stage
from casegraph.safeguards import os_account
from casegraph.store import open_store
from tests.interfaces.test_api import XSS, build_workspace_store, copy_store, settings_for

pytestmark = pytest.mark.browser
SHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def server(city_store_file: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Any]]:
    """The workspace on a free loopback port (uvicorn in a thread), over its own copy of the city store."""
    tmp = tmp_path_factory.mktemp("web")
    build_workspace_store(city_store_file, tmp / "built.duckdb")
    yield from _serve(settings_for(copy_store(tmp / "built.duckdb", tmp / "web.duckdb")))


@pytest.fixture(scope="module")
def pipeline_server(
    city_store_file: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, Any]]:
    """The city after resolve, network and trends, as `casegraph demo` runs them: the network stage finds the tie
    the city generator planted between G01 and G02 and raises its alert (nothing planted in the store)."""
    s = settings_for(copy_store(city_store_file, tmp_path_factory.mktemp("pipeline") / "pipeline.duckdb"))
    store = open_store(s)
    try:
        for stage in ("resolve", "network", "trends"):
            run_stage(store, s, stage)
    finally:
        store.close()
    yield from _serve(s)


def _serve(s: Any, **app_options: Any) -> Iterator[tuple[str, Any]]:
    import uvicorn

    port = _free_port()
    app = create_app(s, **app_options)
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not srv.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert srv.started, "the workspace did not start"
    yield f"http://127.0.0.1:{port}", app.state.signin
    srv.should_exit = True
    thread.join(timeout=30)


@pytest.fixture(scope="module")
def signed_in(browser: Any, server: tuple[str, Any]) -> Iterator[Any]:
    """The browser that used the server's one-time sign-in link (each test opens its own page in it)."""
    yield from _signed_in(browser, server)


@pytest.fixture
def page(signed_in: Any, server: tuple[str, Any]) -> Iterator[Any]:
    """A signed-in page; console errors and CSP violations are collected and must stay empty."""
    p = _page(signed_in)
    p.goto(f"{server[0]}/")
    p.wait_for_selector("#view[data-ready=alerts]")
    yield p
    p.close()


def _page(context: Any) -> Any:
    p = context.new_page()
    p.errors = []
    p.on("console", lambda m: p.errors.append(m.text) if m.type == "error" else None)
    p.on("pageerror", lambda e: p.errors.append(str(e)))
    return p


def _signed_in(browser: Any, server: tuple[str, Any]) -> Iterator[Any]:
    url, signin = server
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    p = _page(context)
    p.goto(f"{url}/login?token={signin.link_token}")  # the link `casegraph serve` prints
    p.fill("#purpose", "browser test: follow an alert to its evidence")
    p.click("button[type=submit]")
    p.wait_for_selector("#view[data-ready=alerts]")
    p.close()
    yield context
    context.close()


def shot(page: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=False)


def go(page: Any, hash_: str, ready: str) -> None:
    page.evaluate("h => { window.location.hash = h; }", hash_)
    page.wait_for_selector(f"#view[data-ready={ready}]", timeout=30_000)


def test_alert_to_its_evidence_and_acknowledge(page):
    shot(page, "01-alerts-inbox")
    page.click("a.alert-title >> text=G01 reached D99")
    page.wait_for_selector("#view[data-ready=alerts] form.ack")
    evidence = page.locator("table.grid a[href^='#/incident/']")
    first = evidence.first.inner_text().split(":", 1)[1]
    assert evidence.count() == 3
    shot(page, "02-alert-detail")
    evidence.first.click()
    page.wait_for_selector("#view[data-ready=incident]")
    assert first in page.locator("#view h1").inner_text()
    shot(page, "03-evidence-incident")
    page.locator("button", has_text="why?").first.click()
    page.wait_for_selector("#why-body .bars")
    assert "distance_m" in page.locator("#why-body").inner_text()
    shot(page, "04-why-incident-link")
    page.go_back()
    page.wait_for_selector("#view[data-ready=alerts] form.ack")
    page.fill("form.ack textarea", "checked the four reports in D99")
    page.click("form.ack button[type=submit]")
    page.wait_for_selector(f"form.ack .result:has-text('acknowledged by {os_account()}')")
    assert page.errors == []


def test_the_tie_between_two_groups_from_its_alert_to_the_evidence(page):
    page.click("a.alert-title >> text=New tie G01-G02")
    page.wait_for_selector("#view[data-ready=alerts] form.ack")
    page.click("#open-tie")
    page.wait_for_selector("#why-body ul.evidence a")
    panel = page.locator("#why-body").inner_text()
    assert "expected by chance" in panel and "p-value" in panel and "2024-02-18" in panel
    shot(page, "12-tie-why")
    link = page.locator("#why-body ul.evidence a").first
    incident = link.inner_text().split(":", 1)[1]
    link.click()
    page.wait_for_selector("#view[data-ready=incident]")
    assert incident in page.locator("#view h1").inner_text()
    shot(page, "13-tie-evidence-incident")
    assert page.errors == []


def test_markup_in_a_narrative_is_shown_as_text(page):
    go(page, "#/incident/metro_pd/IXSS1", "incident")
    assert page.locator(".narrative").inner_text() == XSS
    assert page.evaluate("window.__xss") is None
    assert page.locator("#view script, #view img").count() == 0
    shot(page, "05-narrative-markup-as-text")


def test_link_chart_draws_and_explains_a_tie(page):
    go(page, "#/chart?group=G01", "chart")
    info = page.locator("#view .info").inner_text()
    assert int(info.split()[0]) > 10, info
    assert page.locator("#graph canvas").count() >= 2  # sigma's WebGL layers
    page.evaluate(
        "() => { const g = CG.chartState.graph; CG.chartState.edgeWhy(g.findEdge((e, a) => a.kind === 'member')); }"
    )
    page.wait_for_selector("#why-body h3:has-text('Criteria met')")
    # ForceAtlas2 ran in a web worker, then the chart moved once
    page.wait_for_selector("#graph[data-layout]")
    assert int(page.get_attribute("#graph", "data-layout").split()[0]) > 0
    assert "laying out" not in page.locator("#view .info").inner_text()
    shot(page, "06-link-chart")
    # expanding a person adds its neighbours around it and leaves every node already drawn where it was
    positions = "() => { const g = CG.chartState.graph; return Object.fromEntries(g.mapNodes((n, a) => [n, [a.x, a.y]])); }"
    before = page.evaluate(positions)
    person = page.evaluate("""async () => {  // a person whose neighbours are not all drawn yet
        const g = CG.chartState.graph;
        for (const node of g.filterNodes((n, a) => a.kind === "person")) {
            const more = await CG.api(`/api/graph/expand${CG.qs({ node, limit: 500 })}`);
            if (more.nodes.some((m) => !g.hasNode(m.id))) return node;
        }
    }""")
    assert person, "no person in the chart has neighbours left to expand"
    page.evaluate(f"() => CG.chartState.renderer.emit('clickNode', {{ node: {person!r} }})")
    page.locator("#why-body button:has-text('expand')").click()
    page.wait_for_function(f"() => CG.chartState.graph.order > {len(before)}")
    after = page.evaluate(positions)
    assert {n: after[n] for n in before} == before
    assert page.errors == []


def test_map_shows_incidents_hot_spots_and_the_groups_area(page):
    go(page, "#/map?group=G01", "map")
    info = page.locator("#view .info").inner_text()
    shown = int(info.split()[0])
    assert shown > 10 and "incidents shown" in info
    assert page.locator(".leaflet-overlay-pane canvas").count() >= 1
    assert "area per quarter" in page.locator(".legend").inner_text()
    assert "near-repeat alert zones" in page.locator(".legend").inner_text()
    shot(page, "07-map")
    assert page.errors == []


def test_timeline_period_filters_the_other_views(page):
    go(page, "#/timeline?group=G01", "timeline")
    assert page.locator("#timeline canvas").count() >= 1
    page.fill("input[name=from]", "2023-03-01")
    page.fill("input[name=to]", "2023-04-30")
    page.click("#apply-period")
    assert "2023-03-01" in page.locator("#period").inner_text()
    shot(page, "08-timeline")
    go(page, "#/incidents?group=G01", "incidents")
    days = [d[:10] for d in page.locator("table.grid tbody td:nth-child(4)").all_inner_texts()]
    assert days and all("2023-03-01" <= d <= "2023-04-30" for d in days)
    shot(page, "09-incidents-in-period")
    assert page.errors == []


def test_groups_and_status_say_what_has_not_run(page):
    go(page, "#/group/G01", "group")
    assert "G01 ↔ G02" in page.locator("#view").inner_text()
    shot(page, "10-group")
    go(page, "#/status", "status")
    assert "stage not run" in page.locator("#view").inner_text()  # resolve and linkage did not run here
    shot(page, "11-status")


def test_the_networks_own_tie_from_its_alert_to_the_evidence_records(browser, pipeline_server):
    """What a newcomer does after `scripts/demo --serve`: the inbox, the tie alert, why, an evidence incident."""
    for context in _signed_in(browser, pipeline_server):
        page = _page(context)
        page.goto(f"{pipeline_server[0]}/")
        page.wait_for_selector("#view[data-ready=alerts]")
        shot(page, "14-pipeline-alerts-inbox")
        page.click("a.alert-title >> text=New tie G01-G02")
        page.wait_for_selector("#view[data-ready=alerts] form.ack")
        records = page.locator("table.grid tbody tr").all_inner_texts()
        assert any(r.startswith("incident:") for r in records) and any(
            r.startswith("contact:") for r in records
        )
        shot(page, "15-pipeline-tie-alert")
        page.click("#open-tie")
        page.wait_for_selector("#why-body ul.evidence a")
        panel = page.locator("#why-body").inner_text()
        assert "expected by chance" in panel and "Events behind the tie" in panel
        shot(page, "16-pipeline-tie-why")
        link = page.locator("#why-body ul.evidence a[href^='#/incident/']").first
        incident = link.inner_text().split(":", 1)[1]
        link.click()
        page.wait_for_selector("#view[data-ready=incident]")
        view = page.locator("#view").inner_text()
        assert incident in page.locator("#view h1").inner_text() and ("G01" in view or "G02" in view)
        shot(page, "17-pipeline-tie-evidence-incident")
        assert page.errors == []
