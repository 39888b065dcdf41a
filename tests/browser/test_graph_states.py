"""The graph page's states: a snapshot that outlives its traces, and a remote
neighbourhood's progress bar and partial-graph banner."""

from __future__ import annotations

import time

import orjson
import pytest

from tests.backends.server import start_server
from tests.remote.jaeger import BATCH, PRODUCERS, serve_batch
from tracegraph.backends import clear_backend_cache

from .test_journey import Watched, _demo

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SPAN_POINTS = """() => {
  const gd = document.getElementById("plot");
  return gd.data.filter(t => t.meta && t.meta.role === "spans").map(t => t.x.length)[0];
}"""


def test_a_shared_snapshot_is_drawn_after_its_traces_are_purged(browser, live_server):
    from tracegraph.traces.services import traces_purge

    batch = _demo(live_server)
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    w = Watched(context, live_server.url)
    w.goto(f"/graph/{batch}")
    w.ready(f"/graph/{batch}")
    points = w.page.evaluate(SPAN_POINTS)
    w.page.locator("#share-snapshot").click()
    w.page.wait_for_function("() => document.getElementById('share-url').value.includes('/s/')")
    url = w.page.input_value("#share-url")

    assert traces_purge(older_than_ns=time.time_ns() * 2) > 0

    fresh_context = browser.new_context(viewport={"width": 1400, "height": 900})
    fresh = Watched(fresh_context, live_server.url)
    fresh.page.goto(url)
    fresh.ready(f"/graph/{batch}")
    assert "snapshot=" in fresh.page.evaluate("location.search")
    assert fresh.page.evaluate(SPAN_POINTS) == points
    notice = fresh.page.locator(".snapshot-note").inner_text()
    assert notice.startswith("Snapshot taken ") and "live traces may have changed" in notice
    fresh.shot("graph-snapshot")
    assert w.errors == [] and fresh.errors == []
    fresh_context.close()
    context.close()


def test_a_remote_graph_shows_its_progress_then_the_partial_graph_banner(
    browser, live_server, settings
):
    state, httpd, thread = start_server()
    try:
        serve_batch(state)
        state.answer(f"/api/traces/{PRODUCERS[4]}", 503, b"storage down", content_type="text/plain")
        settings.TRACEGRAPH_BACKEND = "jaeger"
        settings.TRACEGRAPH_JAEGER_URL = state.url
        settings.TRACEGRAPH_BACKEND_TIMEOUT = 1
        clear_backend_cache()
        context = browser.new_context(viewport={"width": 1400, "height": 900})
        w = Watched(context, live_server.url)
        # Tasks run inline here, so the prefetch would answer 200 at once: stand in
        # for a worker with a job that goes 0% -> 60% -> done.
        polls = {"n": 0}
        job = {"id": "j1", "state": "running", "percent": 0, "message": "fetching 0 of 7 traces"}

        def prefetch(route):  # type: ignore[no-untyped-def]
            route.fulfill(status=202, content_type="application/json",
                          body=orjson.dumps({"job": job}))  # fmt: skip

        def job_status(route):  # type: ignore[no-untyped-def]
            polls["n"] += 1
            step = {"percent": 60, "message": "fetched 4 of 7 traces from Jaeger"}
            if polls["n"] >= 8:
                step = {"state": "done", "percent": 100, "message": "done"}
            route.fulfill(content_type="application/json", body=orjson.dumps({**job, **step}))

        w.page.route("**/api/graph/*prefetch=1*", prefetch)
        w.page.route("**/api/jobs/j1", job_status)
        w.goto(f"/graph/{BATCH}")
        w.page.wait_for_function(
            "() => document.getElementById('progress-text').textContent.startsWith('60%')"
        )
        w.shot("graph-remote-progress")
        w.ready(f"/graph/{BATCH}")
        assert polls["n"] >= 8 and w.page.locator("#progress").is_hidden()
        banner = w.page.locator("#banner")
        assert banner.is_visible()
        assert banner.inner_text().startswith("1 of 7 traces could not be fetched from Jaeger")
        w.shot("graph-remote-banner")
        assert w.errors == []
        context.close()
    finally:
        state.stopping.set()
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)
        clear_backend_cache()
