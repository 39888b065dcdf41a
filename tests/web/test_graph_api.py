"""``/api/graph``, ``/api/journey`` and ``/api/stats/links`` over the store."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from tests.builders import sid, span, tid
from tracegraph.traces.services import trace_batch_ingest

pytestmark = pytest.mark.django_db

MS = 1_000_000
#   trace 1: publish A (PRODUCER) ──async_trigger──┐
#   trace 2: publish B (PRODUCER) ──async_trigger──┤
#   trace 3: publish C (PRODUCER) ──async_trigger──┴─> trace 10: batch.process
#                                                            └── item ──> (links A)
#   trace 10: batch.process ──async_trigger──> trace 20: report (reads the batch's output)
BATCH = (tid(10), sid(10))
REPORT = (tid(20), sid(20))


@pytest.fixture
def batch(db):  # type: ignore[no-untyped-def]
    producers = [
        span(tid(n), sid(n), name=f"publish {n}", service="orders", kind=4, start=n * MS)
        for n in (1, 2, 3)
    ]
    trace_batch_ingest(
        spans=[
            *producers,
            span(*BATCH, name="batch.process", service="settle", kind=5, start=100 * MS,
                 duration=50 * MS, links=tuple(p.key for p in producers),
                 link_attributes={"link.type": "batch_source"}),
            span(tid(10), sid(11), parent=sid(10), name="item", service="settle",
                 start=101 * MS, links=((tid(1), sid(1)),),
                 link_attributes={"link.type": "batch_source"}),
            span(*REPORT, name="report", service="reports", kind=5, start=400 * MS,
                 links=(BATCH,), link_attributes={"link.type": "async_trigger"}),
        ]
    )  # fmt: skip


def graph(client, trace, **params):  # type: ignore[no-untyped-def]
    response = client.get(f"/api/graph/{trace}", params)
    assert response.status_code == 200, response.content
    return response.json()


def traces_of(data) -> set[str]:  # type: ignore[no-untyped-def]
    return {t["trace_id"] for t in data["traces"]}


def test_the_batch_neighbourhood_has_its_producers_and_the_pattern(client, batch):
    data = graph(client, tid(10))
    assert traces_of(data) == {tid(10), tid(1), tid(2), tid(3), tid(20)}
    links = [e for e in data["edges"] if e["kind"] == "link"]
    assert {(e["source"], e["target"]) for e in links} >= {
        (f"{tid(1)}:{sid(1)}", f"{tid(10)}:{sid(10)}"),  # cause -> effect
        (f"{tid(10)}:{sid(10)}", f"{tid(20)}:{sid(20)}"),
    }
    assert [p["kind"] for p in data["patterns"] if p["kind"] == "batch_fan_in"]
    batch_finding = next(p for p in data["patterns"] if p["kind"] == "batch_fan_in")
    assert f"{tid(10)}:{sid(10)}" in batch_finding["spans"]
    assert data["truncated"] is False
    assert data["stats"]["spans"] == 6


NODE_FIELDS = {"id", "trace_id", "span_id", "parent", "name", "service", "kind", "start", "end",
               "status", "ghost"}  # fmt: skip


def test_every_node_ghost_or_not_has_the_same_fields_and_edges_name_them(client, batch):
    trace_batch_ingest(
        spans=[span(tid(30), sid(30), name="orphan consumer", start=500 * MS,
                    links=((tid(99), sid(99)),))]
    )  # fmt: skip
    data = graph(client, tid(30))
    nodes = {n["id"]: n for n in data["nodes"]}
    assert all(set(n) == NODE_FIELDS for n in nodes.values())
    ghost = nodes[f"{tid(99)}:{sid(99)}"]
    assert ghost["ghost"] is True and ghost["start"] is None and ghost["name"] == ""
    assert nodes[f"{tid(30)}:{sid(30)}"]["ghost"] is False
    assert [(e["source"], e["target"], e["kind"]) for e in data["edges"]] == [
        (f"{tid(99)}:{sid(99)}", f"{tid(30)}:{sid(30)}", "link")
    ]
    full = graph(client, tid(10))
    child = [e for e in full["edges"] if e["kind"] == "child"]
    assert child == [{"source": f"{tid(10)}:{sid(10)}", "target": f"{tid(10)}:{sid(11)}",
                      "kind": "child"}]  # fmt: skip
    finding = next(p for p in full["patterns"] if p["kind"] == "batch_fan_in")
    assert all(isinstance(a, str) and isinstance(b, str) for a, b in finding["links"])


def test_depth_zero_is_the_trace_alone_with_its_frontier(client, batch):
    data = graph(client, tid(10), depth=0)
    assert traces_of(data) == {tid(10)}
    assert {c["trace_id"] for c in data["frontier"]} == {tid(1), tid(2), tid(3), tid(20)}
    assert data["truncated"] is False  # depth is not a bound


def test_backward_goes_to_causes_and_forward_to_effects(client, batch):
    assert traces_of(graph(client, tid(10), direction="backward")) == {
        tid(10), tid(1), tid(2), tid(3)
    }  # fmt: skip
    assert traces_of(graph(client, tid(10), direction="forward")) == {tid(10), tid(20)}
    assert traces_of(graph(client, tid(1), direction="forward", depth=2)) == {
        tid(1), tid(10), tid(20)
    }  # fmt: skip


def test_a_bound_that_cuts_says_so(client, batch):
    data = graph(client, tid(10), max_traces=2)
    assert data["truncated"] is True
    assert len(data["traces"]) == 2
    assert {c["reason"] for c in data["cut"]} == {"max_traces"}
    assert sum(c["links"] for c in data["cut"]) >= 3


def test_the_trace_level_aggregates_links(client, batch):
    data = graph(client, tid(10), level="trace")
    assert {n["id"] for n in data["nodes"]} == {tid(10), tid(1), tid(2), tid(3), tid(20)}
    edge = next(e for e in data["edges"] if (e["source"], e["target"]) == (tid(1), tid(10)))
    assert edge["count"] == 2  # the batch span and the item span both link publish 1


def test_the_service_level(client, batch):
    data = graph(client, tid(10), level="service")
    assert {n["id"] for n in data["nodes"]} == {"orders", "settle", "reports"}


def test_types_keep_only_those_link_edges(client, batch):
    data = graph(client, tid(10), types="async_trigger")
    assert {e["link_type"] for e in data["edges"] if e["kind"] == "link"} == {"async_trigger"}


def test_graphml_and_node_link_downloads(client, batch):
    response = client.get(f"/api/graph/{tid(10)}", {"format": "graphml"})
    assert "attachment" in response["Content-Disposition"]
    root = ET.fromstring(response.content)
    ns = {"g": "http://graphml.graphdrawing.org/xmlns"}
    assert len(root.findall(".//g:node", ns)) == 6
    data = client.get(f"/api/graph/{tid(10)}", {"format": "json", "level": "trace"}).json()
    assert len(data["nodes"]) == 5
    assert data["directed"] is True


@pytest.mark.parametrize(
    ("query", "needle"),
    [
        ({"depth": "deep"}, "depth"),
        ({"depth": "99"}, "depth"),
        ({"direction": "up"}, "direction"),
        ({"level": "galaxy"}, "level"),
        ({"max_traces": "0"}, "max_traces"),
        ({"types": "carrier_pigeon"}, "types"),
        ({"format": "pdf"}, "format"),
    ],
)
def test_a_bad_parameter_is_a_400_naming_it(client, batch, query, needle):
    response = client.get(f"/api/graph/{tid(10)}", query)
    assert response.status_code == 400
    assert needle in response.json()["error"]


def test_an_unknown_trace_is_a_404(client, batch):
    response = client.get(f"/api/graph/{tid(99)}")
    assert response.status_code == 404
    assert "not stored" in response.json()["error"]


def test_the_journey_crosses_traces_and_splits_waiting_from_work(client, batch):
    response = client.get(f"/api/journey/{tid(20)}/{sid(20)}")
    assert response.status_code == 200
    data = response.json()
    ids = [s["id"] for s in data["steps"]]
    assert f"{tid(10)}:{sid(10)}" in ids  # reached the batch across the link
    assert ids[data["focus"]] == f"{tid(20)}:{sid(20)}"
    assert data["waiting"] > 0
    assert data["busy"] + data["waiting"] == data["latency"]


def test_link_stats_give_delays_per_type_and_consumer(client, batch):
    data = client.get("/api/stats/links").json()
    assert data["links"] == 5
    assert data["link_types"] == {"async_trigger": 1, "batch_source": 4}
    report = data["delay_by_link_type"]["async_trigger"]
    assert report["count"] == 1
    assert report["p50"] == 400 * MS - 150 * MS  # report start - batch end
    assert set(data["delay_by_consumer"]) == {"batch.process", "item", "report"}
    assert data["dangling"] == 0
