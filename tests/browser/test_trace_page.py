"""The trace page of a long trace: rows off screen are drawn on demand, and
``?focus=<span>`` still brings the span to the middle of the window."""

from __future__ import annotations

import pytest

from tests.builders import sid, span, tid

from .test_journey import Watched

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ROW = """(id) => {
  const r = document.getElementById("span-" + id).getBoundingClientRect();
  return {top: r.top, bottom: r.bottom, height: innerHeight,
          selected: document.getElementById("span-" + id).classList.contains("selected")};
}"""


def test_a_span_deep_in_a_long_trace_is_centred_and_selected(browser, live_server):
    from tracegraph.traces.services import trace_batch_ingest

    ms = 1_000_000
    spans = [span(tid(1), sid(1), name="root", duration=1000 * ms)]
    spans += [
        span(tid(1), sid(i), parent=sid(1), name=f"step-{i}", start=i * ms, duration=ms)
        for i in range(2, 601)
    ]
    trace_batch_ingest(spans=spans)
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    w = Watched(context, live_server.url)
    target = sid(500)
    w.goto(f"/traces/{tid(1)}?focus={target}")
    w.page.wait_for_selector("#span-panel .panel-actions")  # the span's details loaded
    w.page.wait_for_timeout(300)
    row = w.page.evaluate(ROW, target)
    assert row["selected"]
    middle = (row["top"] + row["bottom"]) / 2
    assert abs(middle - row["height"] / 2) < row["height"] / 4, row  # centred, give or take
    assert w.page.locator("#waterfall > li").count() == 600
    assert w.errors == []
    context.close()
