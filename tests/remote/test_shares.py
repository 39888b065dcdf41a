"""Snapshot shares outlive their traces: retention purges and remote backends that forget.

POST /api/shares {trace_id, params} ──> Share(id, payload)
GET /s/<id> ──302──> /graph/<trace_id>?<params>&snapshot=<id>
GET /api/shares/<id> ──> the stored /api/graph answer, whatever happened since
"""

from __future__ import annotations

import time

import orjson
import pytest
from django.core.cache import cache

from tests.builders import sid, span, tid
from tracegraph.traces.models import Share
from tracegraph.traces.services import trace_batch_ingest, traces_purge

from .jaeger import BATCH, PRODUCERS, serve_batch

pytestmark = pytest.mark.django_db

MS = 1_000_000


def share(client, trace_id: str, params: object = None, status: int = 201):  # type: ignore[no-untyped-def]
    body = {"trace_id": trace_id, "params": params if params is not None else {}}
    response = client.post("/api/shares", orjson.dumps(body), content_type="application/json")
    assert response.status_code == status, response.content
    return response.json()


@pytest.fixture
def stored():  # type: ignore[no-untyped-def]
    #   trace 1: publish ──async_trigger──> trace 2: consume
    trace_batch_ingest(
        spans=[
            span(tid(1), sid(1), name="publish", service="orders", kind=4, start=1 * MS),
            span(tid(2), sid(2), name="consume", service="billing", kind=5, start=5 * MS,
                 links=((tid(1), sid(1)),), link_attributes={"link.type": "async_trigger"}),
        ]
    )  # fmt: skip


def test_a_share_survives_the_retention_purge(client, stored):
    live = client.get(f"/api/graph/{tid(2)}", {"depth": "1", "level": "span"}).json()

    made = share(client, tid(2), {"depth": "1", "level": "span", "layout": "dag"})
    assert made["url"] == f"/s/{made['id']}" and made["api"] == f"/api/shares/{made['id']}"

    assert traces_purge(older_than_ns=time.time_ns()) == 2  # everything is gone
    assert client.get(f"/api/graph/{tid(2)}").status_code == 404

    snap = client.get(f"/api/shares/{made['id']}")
    assert snap.status_code == 200
    data = snap.json()
    assert data["nodes"] == live["nodes"] and data["edges"] == live["edges"]
    assert {t["trace_id"] for t in data["traces"]} == {tid(1), tid(2)}
    assert data["snapshot"]["trace_id"] == tid(2)
    assert data["snapshot"]["params"] == {"depth": "1", "level": "span", "layout": "dag"}
    assert Share.objects.count() == 1


def test_the_short_url_redirects_to_the_graph_page_with_the_snapshot(client, stored):
    made = share(client, tid(2), "?depth=2&direction=backward&types=async_trigger&snapshot=x")
    response = client.get(made["url"])
    assert response.status_code == 302
    assert response["Location"] == (
        f"/graph/{tid(2)}?depth=2&direction=backward&types=async_trigger&snapshot={made['id']}"
    )


def test_a_share_of_a_remote_graph_survives_the_backend_forgetting_it(client, jaeger):
    serve_batch(jaeger)
    made = share(client, BATCH, {"depth": "1"})

    jaeger.routes.clear()  # Jaeger dropped the traces (its own retention)...
    cache.clear()  # ... and our cache expired (the local-memory one in these tests)
    assert client.get(f"/api/graph/{BATCH}").status_code == 404

    data = client.get(f"/api/shares/{made['id']}").json()
    assert {t["trace_id"] for t in data["traces"]} == {BATCH, *PRODUCERS}
    assert data["snapshot"]["backend"] == "jaeger"


def test_unknown_shares_are_404_json_and_404_pages(client):
    for bad in ("nosuchshare", "x" * 40, "ABC-def"):
        response = client.get(f"/api/shares/{bad}")
        assert response.status_code == 404
        assert "no share" in response.json()["error"]
    assert client.get("/s/abcdefghjk").status_code == 404


def test_bad_share_requests_are_400s_naming_the_problem(client, stored):
    assert "trace id" in share(client, "zz", status=400)["error"]
    assert "depth" in share(client, tid(2), {"depth": "99"}, status=400)["error"]
    assert "colour" in share(client, tid(2), {"colour": "red"}, status=400)["error"]
    assert "layout" in share(client, tid(2), {"layout": "spring"}, status=400)["error"]
    assert "not found" in share(client, tid(77), status=404)["error"]
    response = client.post("/api/shares", b"not json", content_type="application/json")
    assert response.status_code == 400 and "JSON" in response.json()["error"]
    assert client.get("/api/shares").status_code == 405
    assert Share.objects.count() == 0
