"""The inbox shows new alerts without a reload (issue 19 item 4): the workspace serves a store of the city
without its last month and watches a drop folder (`serve --watch`); the month's files are dropped there while
the inbox is open; the workspace imports them and updates, and the alerts the update raised appear at the top of
the open inbox, marked new, on the same page (never reloaded)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from casegraph import ingest, pipeline
from casegraph.api.watching import WatchOptions
from casegraph.store import open_store
from tests.interfaces.test_api import settings_for
from tests.interfaces.test_web import _page, _serve, _signed_in, shot
from tests.stages.test_update import split_last_month

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def live(city_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    root = tmp_path_factory.mktemp("live")
    before, held, drop = root / "before", root / "held", root / "drop"
    for folder in (before, held, drop):
        folder.mkdir()
    split_last_month(city_dir, before, held)
    s = settings_for(root / "store.duckdb")
    store = open_store(s)
    try:
        ingest.run_folder(store, s, before)
        pipeline.run_all(store, s)
        alerts_before = {r[0] for r in store.rows("SELECT alert_id FROM alerts")}
    finally:
        store.close()
    options = WatchOptions(folder=drop, interval=0.5, settle=0.2)
    for url, signin in _serve(s, watch=options):
        yield {"url": url, "signin": signin, "held": held, "drop": drop, "alerts_before": alerts_before}


@pytest.fixture(scope="module")
def signed_in_live(browser: Any, live: dict[str, Any]) -> Iterator[Any]:
    yield from _signed_in(browser, (live["url"], live["signin"]))


def test_new_alerts_appear_in_the_open_inbox_without_a_reload(signed_in_live, live):
    page = _page(signed_in_live)
    page.goto(f"{live['url']}/")
    page.wait_for_selector("#view[data-ready=alerts]")
    page.evaluate("() => { window.sameDocument = true; }")
    shown_before = page.locator("ul.inbox li.alert").count()
    assert not page.locator("ul.inbox li.alert.new").count()
    for f in sorted(live["held"].iterdir()):  # written elsewhere, moved in: as an agency's export arrives
        shutil.copy(f, live["drop"] / f"{f.name}.part")
        (live["drop"] / f"{f.name}.part").rename(live["drop"] / f.name)
    page.wait_for_selector("ul.inbox li.alert.new", timeout=600_000)
    shot(page, "30-live-inbox-new-alerts")
    assert page.evaluate("() => window.sameDocument === true")  # the page was not reloaded
    new_titles = page.locator("ul.inbox li.alert.new a.alert-title").all_inner_texts()
    assert new_titles and all(t.strip() for t in new_titles)
    assert page.locator("ul.inbox li.alert").count() == shown_before + len(new_titles)
    new_ids = {
        h.rsplit("/", 1)[1]
        for h in page.locator("ul.inbox li.alert.new a.alert-title").evaluate_all(
            "links => links.map(a => decodeURIComponent(a.getAttribute('href')))"
        )
    }
    assert new_ids and not new_ids & live["alerts_before"]  # only alerts the month raised are marked new
    assert not [p for p in live["drop"].iterdir() if p.is_file()]  # every file was taken in (done/)
    assert page.errors == [], page.errors
    page.close()
