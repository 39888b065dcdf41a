"""The read API: traces, a trace with its links both ways, a span's links."""

from __future__ import annotations

import pytest

from tests.builders import sid, span, tid
from tracegraph.traces.services import trace_batch_ingest

pytestmark = pytest.mark.django_db

#   trace 1: publish (PRODUCER)  <──link──  trace 2: consume (CONSUMER)
#                                <──link──  trace 3: consume (CONSUMER)
#   trace 3 also links trace 9, which never arrives (dangling)
PUBLISH = (tid(1), sid(1))


@pytest.fixture
def linked(db):  # type: ignore[no-untyped-def]
    trace_batch_ingest(
        spans=[
            span(*PUBLISH, name="publish", service="orders", kind=4),
            span(tid(2), sid(2), name="consume", service="billing", kind=5, start=10,
                 links=(PUBLISH,), link_attributes={"link.type": "async_trigger"}),
            span(tid(3), sid(3), name="consume", service="billing", kind=5, start=20,
                 links=(PUBLISH, (tid(9), sid(9)))),
        ]
    )  # fmt: skip


def test_traces_are_listed_most_recent_first(client, linked):
    traces = client.get("/api/traces").json()["traces"]
    assert [t["trace_id"] for t in traces] == [tid(3), tid(2), tid(1)]
    assert traces[2]["links_in"] == 2


def test_traces_filter_by_service_and_name(client, linked):
    assert len(client.get("/api/traces?service=billing").json()["traces"]) == 2
    assert [t["trace_id"] for t in client.get("/api/traces?name=publ").json()["traces"]] == [tid(1)]


def test_list_queries_are_bounded(client, linked, django_assert_max_num_queries):
    with django_assert_max_num_queries(1):
        client.get("/api/traces")


def test_a_trace_has_each_span_with_its_links_out_and_in(client, linked):
    data = client.get(f"/api/traces/{tid(1)}").json()
    (publish,) = data["spans"]
    assert publish["links"] == []
    assert sorted(link["trace_id"] for link in publish["links_in"]) == [tid(2), tid(3)]
    consume = client.get(f"/api/traces/{tid(3)}").json()["spans"][0]
    assert [link["linked_trace_id"] for link in consume["links"]] == [tid(1), tid(9)]


def test_span_links_in_and_out(client, linked):
    url = f"/api/spans/{tid(1)}/{sid(1)}/links"
    assert [x["trace_id"] for x in client.get(url + "?direction=in").json()["links"]] == [
        tid(2),
        tid(3),
    ]
    assert client.get(url + "?direction=out").json()["links"] == []


def test_incoming_links_of_a_span_that_never_arrived_are_answered(client, linked):
    data = client.get(f"/api/spans/{tid(9)}/{sid(9)}/links?direction=in").json()
    assert [x["trace_id"] for x in data["links"]] == [tid(3)]


def test_64_bit_and_upper_case_ids_are_normalised(client, linked):
    assert client.get(f"/api/traces/{tid(1)[16:].upper()}").status_code == 200


@pytest.mark.parametrize(
    ("url", "status", "needle"),
    [
        (f"/api/traces/{tid(42)}", 404, "not found"),
        ("/api/traces/not-hex", 400, "trace_id"),
        (f"/api/traces/{'0' * 32}", 400, "trace_id"),
        (f"/api/spans/{tid(1)}/{sid(77)}/links", 404, "not stored"),
        (f"/api/spans/{tid(1)}/xyz/links", 400, "span_id"),
        (f"/api/spans/{tid(1)}/{sid(1)}/links?direction=sideways", 400, "direction"),
        ("/api/traces?limit=lots", 400, "limit"),
    ],
)
def test_bad_ids_and_parameters_get_a_json_error(client, linked, url, status, needle):
    response = client.get(url)
    assert response.status_code == status
    assert needle in response.json()["error"]
