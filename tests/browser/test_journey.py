"""The pages in headless Chromium: search -> trace -> graph -> across links and back.

The demo's batch (``A ──> B``: B holds a link to A, A caused B):

    [payments-api POST /api/payments ─ publish settlements] x12
        ──batch_source──> [settlement-batch batch.process ─ batch.item.process x12]

The journey clicks a producer in the diagram (backwards, re-centres on its
trace), clicks through to the batch again from the span panel (forwards),
goes back in the browser, and opens the copied URL in a fresh context. Every
page is screenshotted to test-artifacts/ for people to look at.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from tests.builders import sid, span, tid

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
HOSTILE = "<img src=x onerror=window.__pwned=1>"

# The points of each plotly trace and the selection ring: what "the same diagram" means.
# What makes two diagrams the same. The duration bars are left out: the page
# draws only those that show at the window's size (graph.js, pickBars).
SIGNATURE = """() => {
  const gd = document.getElementById("plot");
  return {
    traces: gd.data.map(t => [t.name, t.meta && t.meta.role === "bars" ? -1 : (t.x || []).length]),
    selected: gd.data.filter(t => t.meta && t.meta.role === "selected").map(t => [t.x, t.y]),
    path: location.pathname + location.search,
  };
}"""

# Page coordinates of the first span marker whose hover text contains `text`.
POINT_OF = """(text) => {
  const gd = document.getElementById("plot");
  const spans = gd.data.find(t => t.meta && t.meta.role === "spans");
  const i = spans.hovertext.findIndex(h => h.includes(text));
  if (i < 0) return null;
  const xa = gd._fullLayout.xaxis, ya = gd._fullLayout.yaxis, box = gd.getBoundingClientRect();
  return {x: box.left + xa._offset + xa.l2p(spans.x[i]),
          y: box.top + ya._offset + ya.l2p(spans.y[i])};
}"""


class Watched:
    """A page whose console errors and uncaught exceptions are collected."""

    def __init__(self, context: Any, base: str) -> None:
        self.page = context.new_page()
        self.base = base
        self.errors: list[str] = []
        self.page.on(
            "console",
            lambda m: self.errors.append(f"console: {m.text}") if m.type == "error" else None,
        )
        self.page.on("pageerror", lambda e: self.errors.append(f"pageerror: {e}"))

    def goto(self, path: str) -> None:
        self.page.goto(self.base + path)

    def ready(self, path_prefix: str = "") -> None:
        self.page.wait_for_function(
            "(p) => window.__tracegraphReady === true && location.pathname.startsWith(p)",
            arg=path_prefix,
            timeout=30_000,
        )

    def shot(self, name: str) -> None:
        ARTIFACTS.mkdir(exist_ok=True)
        self.page.screenshot(path=str(ARTIFACTS / f"{name}.png"))


def _demo(live_server) -> str:
    from tracegraph.traces.demo import demo_send

    summary = demo_send(endpoint=live_server.url + "/v1/traces", now_ns=time.time_ns())
    return next(s.focus for s in summary.scenarios if s.name == "batch")


def test_the_cross_trace_journey_and_a_shared_link(browser, live_server):
    batch = _demo(live_server)
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
    w = Watched(context, live_server.url)
    page = w.page

    # Search: recent traces by default; the batch is listed with its links.
    w.goto("/?service=settlement-batch")
    w.shot("search")
    page.locator(f'a.root[href="/traces/{batch}"]').click()
    page.wait_for_url(f"**/traces/{batch}")
    page.locator("li.span").first.click()
    page.locator("#span-panel .linklist").first.wait_for()
    w.shot("trace")
    assert page.locator("#span-panel .link.out").count() == 12

    # Trace -> graph.
    page.locator("#graph-button").click()
    w.ready(f"/graph/{batch}")
    w.shot("graph")
    first = page.evaluate(SIGNATURE)
    assert ["batch_source", 3 * 24] in first["traces"]

    # Click a producer span in the diagram: backwards, re-centred on its trace.
    at = page.evaluate(POINT_OF, "publish settlements")
    assert at is not None
    page.mouse.click(at["x"], at["y"])
    page.wait_for_function(f"() => !location.pathname.includes('{batch}')", timeout=10_000)
    w.ready("/graph/")
    producer_url = page.evaluate("location.pathname + location.search")
    assert "select=" in producer_url and "focus=" in producer_url
    page.locator("#selection .link.in a").first.wait_for()
    w.shot("graph-producer")
    producer = page.evaluate(SIGNATURE)
    assert producer["selected"][0][0], "the clicked span is selected"

    # Through the incoming link to the batch again: forwards.
    page.locator(f'#selection .link.in a[data-trace="{batch}"]').first.click()
    w.ready(f"/graph/{batch}")
    assert "select=" in page.evaluate("location.search")

    # Browser back returns to the producer's view, diagram and all.
    page.go_back()
    page.wait_for_function("(u) => location.pathname + location.search === u", arg=producer_url)
    w.ready("/graph/")
    assert page.evaluate(SIGNATURE) == producer

    # Change a control (URL state), then copy the link and open it in a fresh browser.
    page.select_option("select[name=depth]", "2")
    page.wait_for_function("() => location.search.includes('depth=2')")
    w.ready("/graph/")
    shared = page.evaluate(SIGNATURE)
    page.locator("#copy-link").click()
    page.wait_for_function(
        "() => document.getElementById('copy-link').textContent.includes('Copied')"
    )
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied == live_server.url + shared["path"]

    fresh_context = browser.new_context(viewport={"width": 1280, "height": 720})
    fresh = Watched(fresh_context, live_server.url)
    fresh.page.goto(copied)
    fresh.ready("/graph/")
    fresh.shot("graph-shared-1280")
    assert fresh.page.evaluate(SIGNATURE) == shared
    assert w.errors == [] and fresh.errors == []
    fresh_context.close()
    context.close()


def test_hostile_names_run_nothing(browser, live_server):
    from tracegraph.traces.services import trace_batch_ingest

    trace_batch_ingest(
        spans=[
            span(tid(7), sid(7), name=HOSTILE, service="<script>window.__pwned=2</script>",
                 attributes={HOSTILE: HOSTILE}),
            span(tid(8), sid(8), name=HOSTILE, links=((tid(7), sid(7)), (tid(9), sid(9))),
                 link_attributes={"note": HOSTILE}),
        ]
    )  # fmt: skip
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    w = Watched(context, live_server.url)
    page = w.page
    w.goto("/")
    assert HOSTILE in page.locator("table.traces").inner_text()
    assert page.evaluate("window.__pwned") is None
    w.goto(f"/traces/{tid(8)}")
    page.locator("li.span").first.click()
    page.locator("#span-panel .linklist").first.wait_for()
    assert HOSTILE in page.locator("#span-panel").inner_text()
    assert page.evaluate("window.__pwned") is None
    w.goto(f"/graph/{tid(8)}?select={sid(8)}")
    w.ready("/graph/")
    page.locator("#selection .linklist").first.wait_for()
    at = page.evaluate(POINT_OF, "&lt;img")
    page.mouse.move(at["x"], at["y"])  # the hover label renders the escaped name
    page.wait_for_selector(".hoverlayer .hovertext", timeout=5_000)
    assert HOSTILE in page.evaluate("document.querySelector('.hoverlayer').textContent")
    w.shot("graph-hostile")
    assert page.evaluate("window.__pwned") is None
    assert page.locator("img[src=x]").count() == 0
    assert w.errors == []
    context.close()
