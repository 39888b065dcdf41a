"""Figures: one WebGL trace per class, polylines with None separators, escaping."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.graphs.builders import tid
from tests.graphs.test_properties import forests
from tracegraph.graphs.build import build_graph
from tracegraph.graphs.export import span_edges, span_elements, span_nodes
from tracegraph.render.figures import LINK_COLOURS, diagram, diagram_of, escape_text

CSS = Path(__file__).resolve().parents[2] / "static" / "css" / "tracegraph.css"


def span(trace, sid, *, parent="", name="op", start=0, status=0, service="svc"):
    return {
        "id": f"{trace}:{sid}",
        "trace_id": trace,
        "span_id": sid,
        "parent": parent,
        "name": name,
        "service": service,
        "kind": 1,
        "start": start,
        "end": start + 1_000_000,
        "status": status,
        "ghost": False,
    }


def fan_in(n_producers: int):
    """n producer traces, each one span, linked by one batch span with one child.

    p0:P ─batch_source─┐
    p1:P ─batch_source─┼─> b:B ── b:I (child)
    ...                ┘   q:Q ─async_trigger─> b:I
    """
    nodes = [span(f"p{i}", "P", start=i * 1_000_000) for i in range(n_producers)]
    nodes += [span("b", "B", start=10**9), span("b", "I", parent="B", start=10**9, status=2)]
    nodes.append(span("q", "Q", start=0))
    edges = [
        {"source": f"p{i}:P", "target": "b:B", "kind": "link", "link_type": "batch_source",
         "attributes": {}, "delay": 5}
        for i in range(n_producers)
    ]  # fmt: skip
    edges.append({"source": "b:B", "target": "b:I", "kind": "child"})
    edges.append(
        {"source": "q:Q", "target": "b:I", "kind": "link", "link_type": "async_trigger",
         "attributes": {}, "delay": None}
    )  # fmt: skip
    return nodes, edges


def by_name(d):
    return {t["name"]: t for t in d.figure["data"]}


def test_it_draws_one_webgl_trace_per_class_never_per_span():
    small = diagram(*fan_in(3))
    big = diagram(*fan_in(500))
    assert len(big.figure["data"]) == len(small.figure["data"])
    assert {t["type"] for t in big.figure["data"]} == {"scattergl"}
    names = Counter(t["name"] for t in big.figure["data"])
    assert names["batch_source"] == names["async_trigger"] == 1
    assert "shapes" not in big.figure["layout"] and "annotations" not in big.figure["layout"]


def test_edges_are_polylines_with_none_separators():
    d = diagram(*fan_in(4))
    links = by_name(d)["batch_source"]
    assert len(links["x"]) == 3 * 4
    assert links["x"][2::3] == [None] * 4 and links["y"][2::3] == [None] * 4
    children = by_name(d)["parent → child"]  # drawn by the page from the spans' parents
    assert children["x"] == [] and children["meta"]["derive"] == "elbows"
    spans = by_name(d)["spans"]
    clicks = d.clickable["spans"]
    item, batch = clicks["s"].index("I"), clicks["s"].index("B")
    assert spans["meta"]["parent"][item] == batch and spans["meta"]["parent"][batch] == -1
    assert d.links["batch_source"][0] == [[d.traces.index("p0"), "P"], [d.traces.index("b"), "B"]]


def test_link_edges_take_their_link_type_colour():
    d = diagram(*fan_in(2))
    for name in ("batch_source", "async_trigger"):
        assert by_name(d)[name]["line"]["color"] == LINK_COLOURS[name]


def test_spans_land_in_their_trace_band():
    d = diagram(*fan_in(2))
    spans = by_name(d)["spans"]
    clicks = d.clickable["spans"]
    rows = {
        (d.traces[t], s): y for t, s, y in zip(clicks["t"], clicks["s"], spans["y"], strict=True)
    }
    assert rows[("b", "I")] == rows[("b", "B")] + 1
    assert rows[("p0", "P")] < rows[("p1", "P")] < rows[("b", "B")]
    ticks = d.figure["layout"]["yaxis"]["ticktext"]
    assert len(ticks) == len(d.traces) == 4


def test_errors_are_their_own_bars_and_red_markers():
    d = diagram(*fan_in(1))
    errors = by_name(d)["errors"]  # drawn by the page: the points whose colour is 1
    assert errors["meta"] == {"role": "bars", "derive": "bars", "errors": True}
    # The legend entry is the red markers' (always drawn), grouped with the
    # red bars (drawn only where they show).
    assert errors["showlegend"] is False and errors["legendgroup"] == "errors"
    spans = by_name(d)["spans"]
    [bad] = spans["meta"]["failed"]
    assert spans["x"][bad] == 1000.0 and spans["meta"]["dur"][bad] == 1_000_000
    # One colour for the span markers; the failed ones again on top, in red.
    assert spans["marker"]["color"] == "#9fd3ff"
    failed = by_name(d)["failed spans"]
    assert failed["marker"]["color"] == "#ff6b6b" and failed["hoverinfo"] == "skip"
    assert failed["meta"]["derive"] == "failed"
    assert failed["showlegend"] is True and failed["legendgroup"] == "errors"
    assert by_name(diagram(*fan_in(1), level="span"))["failed spans"]["showlegend"] is True
    plain = [n for n in fan_in(1)[0] if n.get("status") != 2]
    assert by_name(diagram(plain, []))["failed spans"]["showlegend"] is False


def test_hostile_names_are_escaped_in_hover_text_and_labels():
    hostile = "<img src=x onerror=window.__pwned=1>"
    nodes = [span("t", "A", name=hostile, service="<b>svc</b>")]
    for layout in ("timeline", "dag"):
        d = diagram(nodes, [], layout=layout)
        text = repr(d.figure)
        assert "<img" not in text and "<b>svc" not in text
        meta = by_name(d)["spans"]["meta"]  # hover texts: the page adds the duration
        assert meta["labels"][meta["label"][0]] == (
            "&lt;b&gt;svc&lt;/b&gt; · &lt;img src=x onerror=window.__pwned=1&gt;"
        )
    assert escape_text("a & <b>") == "a &amp; &lt;b&gt;"


def test_the_trace_level_is_one_row_per_trace():
    nodes = [
        {"id": "a", "trace_id": "a", "root_service": "s", "root_name": "<x>", "start": 0,
         "end": 10, "span_count": 3, "error_count": 0, "ghost": False},
        {"id": "b", "trace_id": "b", "root_service": "s", "root_name": "y", "start": 5,
         "end": 20, "span_count": 1, "error_count": 1, "ghost": False},
    ]  # fmt: skip
    edges = [{"source": "a", "target": "b", "kind": "link", "count": 2,
              "link_types": {"retry_previous": 2}, "delay_p50": 1}]  # fmt: skip
    d = diagram(nodes, edges, level="trace")
    assert by_name(d)["traces"]["y"] == [0.0, 2.0]
    assert len(by_name(d)["retry_previous"]["x"]) == 3
    assert "&lt;x&gt;" in by_name(d)["traces"]["hovertext"][0]
    assert by_name(d)["traces"]["marker"]["color"] == [0, 1]  # few points: a colour each


def test_the_service_level_is_always_a_dag():
    counts = {"span_count": 1, "trace_count": 1, "error_count": 0}
    nodes = [{"id": "api", "service": "api", **counts}, {"id": "db", "service": "db", **counts}]
    edges = [{"source": "api", "target": "db", "calls": 3, "links": 0, "link_types": {}}]
    d = diagram(nodes, edges, level="service", layout="timeline")
    assert d.layout == "dag"
    assert by_name(d)["calls"]["x"] == [0.0, 1.0, None]
    assert d.clickable["spans"]["s"] == ["api", "db"]


def test_the_css_uses_the_same_link_colours():
    css = CSS.read_text()
    for link_type, colour in LINK_COLOURS.items():
        assert re.search(rf"--lt-{link_type}:\s*{colour};", css), link_type


def test_ghosts_of_stored_traces_outside_the_view_say_not_loaded():
    nodes = [span("t", "C"), {**span("u", "G"), "ghost": True, "start": None, "end": None},
             {**span("v", "H"), "ghost": True, "start": None, "end": None}]  # fmt: skip
    edges = [
        {"source": "u:G", "target": "t:C", "kind": "link", "link_type": "link"},
        {"source": "v:H", "target": "t:C", "kind": "link", "link_type": "link"},
    ]
    d = diagram(nodes, edges, unloaded=["u"])
    ticks = d.figure["layout"]["yaxis"]["ticktext"]
    assert ticks[1].startswith("not loaded u") and ticks[2].startswith("not stored v")
    assert d.clickable["ghosts"]["s"] == ["G", "H"]


def test_a_big_timeline_starts_with_elbows_hidden_but_in_the_legend_and_bars_shown():
    from tracegraph.render.figures import BIG, diagram

    n = BIG + 1
    nodes = [
        {"id": f"{'a' * 32}:{i:016x}", "trace_id": "a" * 32, "span_id": f"{i:016x}",
         "parent": "" if i == 0 else f"{0:016x}", "name": "op", "service": "svc", "kind": 1,
         "start": i * 1000, "end": i * 1000 + 500, "status": 0, "ghost": False}
        for i in range(n)
    ]  # fmt: skip
    edges = [
        {"source": nodes[0]["id"], "target": nodes[i]["id"], "kind": "child"} for i in range(1, n)
    ]
    fig = diagram(nodes, edges).figure
    by_name = {t["name"]: t for t in fig["data"]}
    # The page draws the bars that show in the view (graph.js, pickBars).
    assert by_name["durations"].get("visible", True) is True
    assert by_name["durations"]["meta"]["derive"] == "bars"
    assert by_name["parent → child"]["visible"] == "legendonly"
    assert by_name["spans"].get("visible", True) is True
    assert len(by_name["spans"]["x"]) == n


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(forests(), st.sampled_from(["timeline", "dag"]), st.frozensets(st.integers(1, 8)))
def test_a_span_graph_drawn_from_its_own_dicts_is_the_diagram_of_its_api_answer(
    spans, layout, unloaded
) -> None:
    """The live figure (span_elements) and a stored one (the API's nodes and edges) agree."""
    G = build_graph(spans)
    cut = [tid(t) for t in unloaded]
    live = diagram_of(*span_elements(G), layout=layout, unloaded=cut)
    stored = diagram(span_nodes(G), span_edges(G), layout=layout, unloaded=cut)
    assert orjson.dumps(live.figure) == orjson.dumps(stored.figure)
    assert (live.traces, live.clickable, live.links) == (
        stored.traces,
        stored.clickable,
        stored.links,
    )
