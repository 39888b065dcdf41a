"""The pages: search with filters, trace with link badges and span panel data,
the graph page and its figure endpoint, upload, 404."""

from __future__ import annotations

import re
from pathlib import Path

import orjson
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from tests.builders import T0, sid, span, tid
from tracegraph.traces.models import Span
from tracegraph.traces.services import trace_batch_ingest, traces_purge
from tracegraph.web import views

pytestmark = pytest.mark.django_db
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "public"


def producer_consumer():
    """publish (trace 1) <-async_trigger- consume (trace 2) -> trace 9 never arrived.

    trace 1: publish ──┐
    trace 2:           └─> consume ──> (9/9: not stored)
    """
    trace_batch_ingest(
        spans=[
            span(tid(1), sid(1), name="publish", service="shop",
                 attributes={"http.route": "/api/orders", "http.status_code": 200}),
            span(tid(2), sid(2), name="consume", service="worker", start=5_000_000,
                 duration=2_000_000_000, status=2,
                 links=((tid(1), sid(1)), (tid(9), sid(9))),
                 link_attributes={"link.type": "async_trigger"}),
            span(tid(2), sid(3), parent=sid(2), name="db.query", service="worker"),
            span(tid(4), sid(4), name="lonely", service="cron"),
        ]
    )  # fmt: skip


def test_the_empty_search_page_says_how_to_send_traces(client):
    page = client.get("/").content.decode()
    assert "/v1/traces" in page
    assert "manage.py demo" in page


def test_search_lists_traces_and_jumps_to_a_trace_id(client):
    trace_batch_ingest(spans=[span(tid(1), sid(1), name="GET /checkout", service="shop")])
    assert "GET /checkout" in client.get("/").content.decode()
    response = client.get(f"/?trace_id={tid(1).upper()}")
    assert response.status_code == 302
    assert response["Location"] == f"/traces/{tid(1)}"


@pytest.mark.parametrize(
    ("query", "found"),
    [
        ("", {1, 2, 4}),
        ("service=worker", {2}),
        ("name=db.qu", {2}),
        ("errors=1", {2}),
        ("links=1", {1, 2}),
        ("link_type=async_trigger", {1, 2}),
        ("link_type=retry_previous", set()),
        ("min_ms=1000", {2}),
        ("attr=http.route%3D/api/orders", {1}),
        ("attr=http.status_code%3D200", {1}),
        ("attr=contains%3Dx", set()),
        ("window=15m", set()),  # the builders' spans are from 2023
        ("window=all&service=shop&links=1", {1}),
    ],
)
def test_search_filters(client, query, found):
    producer_consumer()
    page = client.get(f"/?{query}").content.decode()
    assert {n for n in (1, 2, 4) if tid(n) in page} == found


def test_search_keeps_its_queries_bounded(client, django_assert_max_num_queries):
    producer_consumer()
    trace_batch_ingest(spans=[span(tid(100 + i), sid(100 + i), service=f"s{i}") for i in range(60)])
    query = "/?service=worker&name=c&errors=1&links=1&link_type=async_trigger&attr=a%3Db&min_ms=1"
    with django_assert_max_num_queries(3):
        client.get(query)
    with django_assert_max_num_queries(3):
        page = client.get("/").content.decode()
    assert page.count('class="tid"') == 50


def test_a_bad_search_parameter_is_a_400_naming_it(client):
    response = client.get("/?min_ms=soon")
    assert response.status_code == 400
    assert "min_ms" in response.content.decode()
    assert client.get("/?window=3y").status_code == 400
    assert client.get("/?attr=novalue").status_code == 400


def test_the_trace_page_shows_link_badges_and_a_graph_button(client):
    producer_consumer()
    page = client.get(f"/traces/{tid(2)}?focus={sid(2)}").content.decode()
    assert (
        '<span class="badge out" title="links this span holds (to its causes)">→ 2</span>' in page
    )
    assert f'href="/graph/{tid(2)}?focus={sid(2)}"' in page
    assert f'data-focus="{sid(2)}"' in page
    producer = client.get(f"/traces/{tid(1)}").content.decode()
    assert (
        '<span class="badge in" title="links to this span (from its effects)">← 1</span>'
        in producer
    )


def test_the_waterfall_rows_nest_mark_errors_and_place_the_bars(client):
    ms = 1_000_000
    trace_batch_ingest(
        spans=[
            span(tid(6), sid(60), name="root", duration=10 * ms),
            span(tid(6), sid(62), parent=sid(60), name="late", start=6 * ms, duration=4 * ms),
            span(tid(6), sid(61), parent=sid(60), name="early", start=ms, duration=2 * ms,
                 status=2, links=((tid(7), sid(70)),),
                 link_attributes={"link.type": "retry_previous"}),
        ]
    )  # fmt: skip
    page = client.get(f"/traces/{tid(6)}").content.decode()
    rows = re.findall(r'<li id="span-([0-9a-f]+)" class="(span(?: error)?)"', page)
    assert rows == [(sid(60), "span"), (sid(61), "span error"), (sid(62), "span")]  # by start
    early = page[page.index(f'id="span-{sid(61)}"') : page.index(f'id="span-{sid(62)}"')]
    assert 'style="padding-left: 18px"' in early  # one level in: 14 px, plus 4
    assert '<span class="errmark" title="status: error">!</span>' in early
    assert '<span class="typedot lt-retry_previous" title="retry_previous link"></span>' in early
    assert 'style="margin-left: 10.000%; width: 20.000%"' in early
    assert '<span class="dur">2.00 ms</span>' in early


def test_the_span_panel_lists_links_both_ways_and_marks_missing_traces(client):
    producer_consumer()
    data = client.get(f"/traces/{tid(2)}/spans/{sid(2)}").json()
    assert data["span"]["name"] == "consume"
    assert [(lk["linked_trace_id"], lk["link_type"]) for lk in data["span"]["links"]] == [
        (tid(1), "async_trigger"),
        (tid(9), "async_trigger"),
    ]
    assert data["traces"][tid(1)]["stored"] is True
    assert data["traces"][tid(9)]["stored"] is False  # shown as missing, not hidden
    producer = client.get(f"/traces/{tid(1)}/spans/{sid(1)}").json()
    assert [lk["trace_id"] for lk in producer["links_in"]] == [tid(2)]
    ghost = client.get(f"/traces/{tid(9)}/spans/{sid(9)}").json()
    assert ghost["span"] is None and len(ghost["links_in"]) == 1
    assert client.get(f"/traces/{tid(8)}/spans/{sid(8)}").status_code == 404
    assert client.get(f"/traces/{tid(8)}/spans/nothex").status_code == 400


def test_names_are_shown_as_text_never_run(client):
    hostile = "<img src=x onerror=window.__pwned=1>"
    trace_batch_ingest(
        spans=[
            span(tid(3), sid(3), name="<script>alert(1)</script>", service=hostile),
            span(tid(5), sid(5), name=hostile, links=((tid(3), sid(3)),),
                 link_attributes={"link.type": hostile}),
        ]
    )  # fmt: skip
    for url in ("/", f"/traces/{tid(3)}", f"/traces/{tid(5)}", f"/graph/{tid(3)}"):
        page = client.get(url).content.decode()
        assert "<script>alert(1)" not in page
        assert "<img src=x" not in page
    assert "&lt;script&gt;alert(1)" in client.get(f"/traces/{tid(3)}").content.decode()
    # The plotly figure carries escaped text; the panel data is raw, for textContent.
    figure = orjson.dumps(client.get(f"/graph/{tid(3)}/figure").json()["figure"]).decode()
    assert "<img" not in figure and "<script>" not in figure
    assert "&lt;img src=x onerror=window.__pwned=1&gt;" in figure


def test_an_unknown_trace_is_a_helpful_404(client):
    for url in (f"/traces/{tid(404)}", f"/graph/{tid(404)}", "/graph/not-a-trace"):
        response = client.get(url)
        assert response.status_code == 404
        assert "search the stored traces" in response.content.decode()
    assert client.get(f"/graph/{tid(404)}/figure").json()["error"].endswith("is not stored")


def test_the_graph_page_names_a_bad_parameter(client):
    producer_consumer()
    response = client.get(f"/graph/{tid(2)}?direction=sideways")
    assert response.status_code == 400
    assert "direction" in response.content.decode()
    assert client.get(f"/graph/{tid(2)}/figure?layout=spiral").status_code == 400
    assert client.get(f"/graph/{tid(2)}/figure?types=bogus").status_code == 400


def test_the_graph_page_loads_plotly_from_static_not_a_cdn(client):
    producer_consumer()
    page = client.get(f"/graph/{tid(2)}").content.decode()
    assert "/static/vendor/plotly-gl2d.min.js" in page
    assert "cdn" not in page.lower()


def test_the_figure_endpoint_draws_the_neighbourhood(client):
    producer_consumer()
    data = orjson.loads(client.get(f"/graph/{tid(2)}/figure").content)
    names = [t["name"] for t in data["figure"]["data"]]
    assert "async_trigger" in names
    assert set(data["traces"]) == {tid(1), tid(2), tid(9)}
    assert data["level"] == "span" and data["layout"] == "timeline"
    assert data["stats"]["ghosts"] == 1
    assert data["labels"][tid(2)] == ["worker", "consume"]
    assert data["figure"]["layout"]["xaxis"]["title"]["text"].startswith("ms since 2023-11-14")
    dag = orjson.loads(client.get(f"/graph/{tid(2)}/figure?layout=dag&level=trace").content)
    assert dag["layout"] == "dag" and dag["level"] == "trace"
    # Service nodes name no trace; the page's title still names the one drawn.
    services = orjson.loads(client.get(f"/graph/{tid(2)}/figure?level=service").content)
    assert services["labels"] == {tid(2): ["worker", "consume"]}


def test_a_snapshot_is_drawn_after_its_traces_are_purged(client):
    producer_consumer()
    live = client.get(f"/graph/{tid(2)}/figure?layout=dag").json()
    body = {"trace_id": tid(2), "params": "layout=dag"}
    made = client.post("/api/shares", orjson.dumps(body), content_type="application/json").json()
    traces_purge(older_than_ns=T0 * 10)
    assert client.get(f"/graph/{tid(2)}").status_code == 404  # the live page: gone

    page = client.get(made["url"], follow=True)
    assert page.status_code == 200
    assert page.redirect_chain[-1][0] == f"/graph/{tid(2)}?layout=dag&snapshot={made['id']}"
    snap = client.get(f"/graph/{tid(2)}/figure?layout=dag&snapshot={made['id']}").json()
    assert snap["figure"]["data"] == live["figure"]["data"]
    assert snap["snapshot"]["id"] == made["id"] and snap["banner"] == ""
    assert client.get(f"/graph/{tid(2)}/figure?snapshot=nope").status_code == 404
    assert client.get(f"/graph/{tid(1)}/figure?snapshot={made['id']}").status_code == 400
    assert client.get(f"/graph/{tid(2)}?snapshot=nope").status_code == 404


def test_a_big_neighbourhood_switches_to_the_trace_level_and_says_so(client, monkeypatch):
    producer_consumer()
    monkeypatch.setattr(views, "AUTO_SPAN_LIMIT", 2)
    auto = client.get(f"/graph/{tid(2)}/figure").json()
    assert auto["level"] == "trace" and auto["auto_level"] is True
    assert "one node per trace" in auto["notice"]
    forced = client.get(f"/graph/{tid(2)}/figure?level=span").json()
    assert forced["level"] == "span" and forced["notice"] == ""


def test_the_frontier_is_reported_for_expanding_further(client):
    # 1 <- 2 <- 3: from trace 1 at depth 1 forward, trace 3 is one step beyond.
    trace_batch_ingest(
        spans=[
            span(tid(1), sid(1)),
            span(tid(2), sid(2), start=10, links=((tid(1), sid(1)),)),
            span(tid(3), sid(3), start=20, links=((tid(2), sid(2)),)),
        ]
    )
    data = client.get(f"/graph/{tid(1)}/figure?depth=1").json()
    assert [c["trace_id"] for c in data["frontier"]] == [tid(3)]
    assert T0 > 0


def test_upload_imports_a_real_jaeger_file(client):
    body = (FIXTURES / "jaeger_uimodel_ui_01.json").read_bytes()
    response = client.post("/upload", {"files": SimpleUploadedFile("ui_01.json", body)})
    assert response.status_code == 200
    assert "spans in" in response.content.decode()
    assert Span.objects.exists()
