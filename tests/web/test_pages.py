"""The minimal pages: search, trace with links both ways, upload, 404."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from tests.builders import sid, span, tid
from tracegraph.traces.models import Span
from tracegraph.traces.services import trace_batch_ingest

pytestmark = pytest.mark.django_db
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "public"


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


def test_the_trace_page_links_both_ways_and_marks_missing_traces(client):
    trace_batch_ingest(
        spans=[
            span(tid(1), sid(1), name="publish"),
            span(tid(2), sid(2), name="consume", links=((tid(1), sid(1)), (tid(9), sid(9)))),
        ]
    )
    consumer = client.get(f"/traces/{tid(2)}").content.decode()
    assert f'href="/traces/{tid(1)}#span-{sid(1)}"' in consumer
    assert "(not stored)" in consumer  # trace 9 never arrived
    producer = client.get(f"/traces/{tid(1)}").content.decode()
    assert f'href="/traces/{tid(2)}#span-{sid(2)}"' in producer


def test_names_are_shown_as_text_never_run(client):
    trace_batch_ingest(spans=[span(tid(3), sid(3), name="<script>alert(1)</script>")])
    for url in ("/", f"/traces/{tid(3)}"):
        page = client.get(url).content.decode()
        assert "<script>alert(1)" not in page
        assert "&lt;script&gt;alert(1)" in page


def test_an_unknown_trace_is_a_helpful_404(client):
    response = client.get(f"/traces/{tid(404)}")
    assert response.status_code == 404
    assert "search the stored traces" in response.content.decode()


def test_upload_imports_a_real_jaeger_file(client):
    body = (FIXTURES / "jaeger_uimodel_ui_01.json").read_bytes()
    response = client.post("/upload", {"files": SimpleUploadedFile("ui_01.json", body)})
    assert response.status_code == 200
    assert "spans in" in response.content.decode()
    assert Span.objects.exists()
