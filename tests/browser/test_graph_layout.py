"""The timeline's left margin is fitted to its band labels before the first draw.

The figure turns plotly's automargin off (it would draw every WebGL trace a
second time once it had measured the labels); static/js/graph.js measures
the labels instead. A margin too narrow cuts the labels, one too wide wastes
the plot.
"""

from __future__ import annotations

import pytest

from tests.builders import sid, span, tid

from .test_journey import Watched

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def w(browser, live_server):  # type: ignore[no-untyped-def]
    """A watched page in a fresh 1400x900 context, closed after the test."""
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    yield Watched(context, live_server.url)
    context.close()


LONG = "checkout-orchestrator-service"  # the label is cut at 34 characters

# Left edges of the y tick labels and of the plot, and the left margin, in px.
EDGES = """() => {
  const gd = document.getElementById("plot");
  const box = gd.getBoundingClientRect();
  const labels = [...gd.querySelectorAll(".ytick text")].map(t => t.getBoundingClientRect());
  return {
    plot: box.left,
    labels: labels.map(r => r.left),
    widest: Math.max(...labels.map(r => r.width)),
    margin: gd._fullLayout.margin.l,
    draws: window.__draws || 0,
  };
}"""

# Counts the WebGL draw calls of the span markers (one per full draw of the
# plot), from the figure's react on (a slow figure finds WebGL set up by then).
COUNT_DRAWS = """
window.__draws = 0;
const mark = performance.mark.bind(performance);
performance.mark = (name, ...rest) => {
  if (name === "tg:react") window.__draws = 0;
  return mark(name, ...rest);
};
const drawArrays = WebGLRenderingContext.prototype.drawArrays;
WebGLRenderingContext.prototype.drawArrays = function (...args) {
  if (args[0] === this.POINTS) window.__draws += 1;
  return drawArrays.apply(this, args);
};
"""


def test_band_labels_fit_the_margin_and_the_plot_is_drawn_once(w):
    from tracegraph.traces.services import trace_batch_ingest

    trace_batch_ingest(
        spans=[
            span(tid(1), sid(1), name="short", service="a"),
            span(tid(2), sid(2), name="settle <all> & report every pending order",
                 service=LONG, start=5_000_000, links=((tid(1), sid(1)),)),
        ]
    )  # fmt: skip
    w.page.context.add_init_script(COUNT_DRAWS)
    w.goto(f"/graph/{tid(2)}")
    w.ready("/graph/")
    w.shot("graph-margins")
    edges = w.page.evaluate(EDGES)
    assert len(edges["labels"]) == 2
    assert min(edges["labels"]) >= edges["plot"]  # no label cut at the left
    assert edges["widest"] > 150  # the long label is there, with its escaped "<all> &"
    assert edges["margin"] <= edges["widest"] + 30  # and the margin is no wider than needed
    # One draw of the markers: the spans trace once, in the single full draw
    # (the markers of the link trace are a second POINTS call in it).
    assert edges["draws"] == 2
    # Opened with a selection (as every re-centring click does): the ring is
    # drawn with the rest, not by a second full draw (markers, links, ring).
    w.goto(f"/graph/{tid(2)}?select={sid(2)}")
    w.ready("/graph/")
    assert w.page.evaluate(EDGES)["draws"] == 3
    assert w.errors == []


DERIVED = """() => {
  const gd = document.getElementById("plot");
  const role = (r) => gd.data.filter(t => t.meta && t.meta.role === r);
  const spans = role("spans")[0];
  const [durations, errors] = role("bars");
  return {
    x: spans.x, y: spans.y, hover: spans.hovertext,
    durations: [durations.x, durations.y], errors: [errors.x, errors.y],
    children: [role("children")[0].x, role("children")[0].y],
    failed: role("failed").map(t => [t.x, t.y]),
  };
}"""


def test_the_page_draws_bars_elbows_and_hover_texts_from_the_span_points(w):
    from tracegraph.traces.services import trace_batch_ingest

    ms = 1_000_000
    trace_batch_ingest(
        spans=[
            span(tid(3), sid(30), name="root", service="api", duration=4 * ms),
            span(tid(3), sid(31), parent=sid(30), name="db", service="pg", start=ms,
                 duration=2 * ms, status=2),
        ]
    )  # fmt: skip
    w.goto(f"/graph/{tid(3)}?layout=timeline")
    w.ready("/graph/")
    got = w.page.evaluate(DERIVED)
    assert got["x"] == [0, 1] and got["y"] == [0, 1]
    assert got["durations"] == [[0, 4, None], [0, 0, None]]
    assert got["errors"] == [[1, 3, None], [1, 1, None]]
    assert got["children"] == [[1, 1, None], [0, 1, None]]  # down at the child's start
    assert got["failed"] == [[[1], [1]]]  # the failed span's marker again, in red
    assert got["hover"] == ["api · root<br>4.00 ms", "pg · db<br>2.00 ms · ERROR"]
    w.goto(f"/graph/{tid(3)}?layout=dag")
    w.ready("/graph/")
    dag = w.page.evaluate(DERIVED.replace('const [durations, errors] = role("bars");',
                                          "const durations = {}, errors = {};"))  # fmt: skip
    assert dag["x"] == [0, 1] and dag["children"] == [[0, 1, None], [0, 0, None]]  # straight
    assert w.errors == []


BARS = """() => {
  const gd = document.getElementById("plot");
  const bars = gd.data.filter(t => t.meta && t.meta.role === "bars")[0];
  const starts = [];
  for (let i = 0; i < bars.x.length; i += 3) starts.push(bars.x[i]);
  return starts.sort((a, b) => a - b);
}"""


def test_the_page_draws_the_bars_that_show_and_picks_again_after_a_zoom(w):
    from tracegraph.traces.services import trace_batch_ingest

    ms = 1_000_000
    trace_batch_ingest(
        spans=[
            span(tid(4), sid(40), name="root", service="api", duration=1000 * ms),
            span(tid(4), sid(41), parent=sid(40), name="a", start=10 * ms, duration=1_000),
            span(tid(4), sid(42), parent=sid(40), name="b", start=500 * ms, duration=2_000),
            span(tid(4), sid(43), parent=sid(40), name="c", start=900 * ms, duration=100 * ms),
            span(tid(4), sid(44), parent=sid(40), name="d", start=300 * ms, duration=3 * ms),
        ]
    )  # fmt: skip
    w.goto(f"/graph/{tid(4)}")
    w.ready("/graph/")
    # A microsecond is under a pixel at this scale: hidden by its marker, not
    # drawn. d's 3 ms are 3-4 px, shorter than the marker's radius (4.5 px),
    # but its bar is as thick as the marker: its corners show.
    assert w.page.evaluate(BARS) == [0, 300, 900]
    w.page.evaluate("""() => {
      const gd = document.getElementById("plot");
      window.__restyles = 0;
      gd.on("plotly_restyle", () => { window.__restyles += 1; });
    }""")
    restyles = "() => window.__restyles"

    def zoom(lo: float, hi: float) -> None:
        w.page.evaluate(f"Plotly.relayout('plot', {{'xaxis.range': [{lo}, {hi}]}})")
        w.page.wait_for_timeout(400)  # the page picks again 150 ms after the view settles

    zoom(9.999, 10.003)  # 4 µs wide: span a's bar is hundreds of pixels long
    assert w.page.evaluate(BARS) == [0, 10]  # b and c are outside the window
    assert w.page.evaluate(restyles) == 1
    zoom(9.9995, 10.0035)  # a small pan stays inside the window: nothing to redraw
    assert w.page.evaluate(restyles) == 1
    zoom(499.999, 500.003)  # a pan far away: b now, a gone
    assert w.page.evaluate(BARS) == [0, 500]
    assert w.page.evaluate(restyles) == 2
    assert w.errors == []


GL = """() => {
  const probe = document.createElement("canvas").getContext("webgl");
  const info = probe.getExtension("WEBGL_debug_renderer_info");
  const plot = document.querySelector("#plot canvas.gl-canvas-context").getContext("webgl");
  return {
    renderer: String(probe.getParameter(info ? info.UNMASKED_RENDERER_WEBGL : probe.RENDERER)),
    antialias: plot.getContextAttributes().antialias,
  };
}"""


def test_software_webgl_draws_without_multisampling(w):
    """No GPU here (--disable-gpu): SwiftShader, where 4x multisampling is half a frame."""
    from tracegraph.traces.services import trace_batch_ingest

    trace_batch_ingest(spans=[span(tid(5), sid(50), name="root")])
    w.goto(f"/graph/{tid(5)}")
    w.ready("/graph/")
    gl = w.page.evaluate(GL)
    software = any(s in gl["renderer"].lower() for s in ("swiftshader", "llvmpipe", "software"))
    assert gl["antialias"] is not software, gl
    # The next page of the tab remembers the answer instead of probing again.
    assert w.page.evaluate("sessionStorage.getItem('tracegraph.softwareGL')") == (
        "1" if software else "0"
    )
    w.goto(f"/graph/{tid(5)}?layout=dag")
    w.ready("/graph/")
    assert w.page.evaluate(GL)["antialias"] is not software
    assert w.errors == []


SHAPE = """() => document.getElementById("plot").data.map(t => [t.name, (t.x || []).length])"""


def test_a_slow_figure_finds_webgl_set_up_and_is_drawn_the_same(w):
    from tracegraph.traces.services import trace_batch_ingest

    ms = 1_000_000
    trace_batch_ingest(
        spans=[
            span(tid(6), sid(60), name="root", duration=9 * ms),
            span(tid(6), sid(61), parent=sid(60), name="child", start=ms, duration=2 * ms),
            span(tid(7), sid(70), name="consumer", start=20 * ms, links=((tid(6), sid(61)),)),
        ]
    )  # fmt: skip
    w.goto(f"/graph/{tid(6)}")
    w.ready("/graph/")
    quick = w.page.evaluate(SHAPE)
    assert w.page.evaluate("performance.getEntriesByName('tg:warm').length") == 0

    # The same figure, held back for a second on its way (as a big one is).
    def slow(route):  # type: ignore[no-untyped-def]
        response = route.fetch()
        w.page.wait_for_timeout(1000)
        route.fulfill(response=response)

    w.page.context.add_init_script(COUNT_DRAWS)
    w.page.route("**/figure?*", slow)
    w.goto(f"/graph/{tid(6)}")
    w.ready("/graph/")
    assert w.page.evaluate("performance.getEntriesByName('tg:warm').length") == 1
    assert w.page.evaluate(SHAPE) == quick
    assert w.page.evaluate("window.__draws") == 2  # the figure drawn once, as without
    assert w.errors == []


LAYOUT = """() => Object.fromEntries([...document.querySelectorAll("input[name=layout]")]
  .map(i => [i.value, {checked: i.checked, disabled: i.disabled}]))"""


def test_the_service_level_is_a_dag_and_the_title_still_names_the_trace(w):
    from tracegraph.traces.services import trace_batch_ingest

    trace_batch_ingest(spans=[span(tid(8), sid(80), name="checkout", service="shop")])
    w.goto(f"/graph/{tid(8)}?level=service")
    w.ready("/graph/")
    assert w.page.evaluate(LAYOUT) == {
        "timeline": {"checked": False, "disabled": True},
        "dag": {"checked": True, "disabled": False},
    }
    assert w.page.text_content("#graph-title") == "shop checkout"
    w.page.select_option("select[name=level]", "span")
    w.page.wait_for_function("() => location.search.includes('level=span')")
    w.ready("/graph/")
    assert w.page.evaluate(LAYOUT)["timeline"] == {"checked": True, "disabled": False}
    assert w.errors == []


HIGHLIGHT = """() => {
  const t = document.getElementById("plot").data.find(t => t.meta && t.meta.role === "highlight");
  return t.x.map((x, k) => [x, t.y[k]]);
}"""


def test_clicking_a_finding_highlights_its_spans_and_another_moves_it(w):
    from tracegraph.traces.services import trace_batch_ingest

    ms = 1_000_000
    kind = {"link.type": "async_trigger"}
    trace_batch_ingest(
        spans=[
            span(tid(10), sid(100), name="publish", kind=4),
            span(tid(11), sid(110), name="charge", kind=5, start=5 * ms,
                 links=((tid(10), sid(100)),), link_attributes=kind),
            span(tid(12), sid(120), name="notify", kind=5, start=9 * ms,
                 links=((tid(10), sid(100)),), link_attributes=kind),
        ]
    )  # fmt: skip
    w.goto(f"/graph/{tid(10)}")
    w.ready("/graph/")
    findings = w.page.locator("#patterns li")
    assert findings.count() == 2  # charge and notify, each triggered by publish
    findings.nth(0).click()
    first = w.page.evaluate(HIGHLIGHT)
    # Both findings start at the producer: the second must still move the highlight.
    findings.nth(1).click()
    second = w.page.evaluate(HIGHLIGHT)
    assert len(first) == len(second) == 2 and first[0] == second[0] and first != second
    findings.nth(1).click()  # again: off
    assert w.page.evaluate(HIGHLIGHT) == []
    assert w.errors == []
