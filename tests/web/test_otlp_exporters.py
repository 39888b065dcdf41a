"""The receiver as real exporters reach it.

* the OpenTelemetry Python SDK's OTLP/HTTP exporter, over HTTP, gzip on;
* the server ``make run`` starts (gunicorn), fed a chunked gzip body as the
  Java exporter streams it, and a plain Content-Length body as the Collector
  sends it;
* storage down (the SQLite file locked by another process): 503 with
  Retry-After, and nothing half-written.
"""

from __future__ import annotations

import gzip
import http.client
import json
import os
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import Link, SpanKind

from tests.web.otlp_bodies import export_request, ids
from tracegraph.traces.models import Span, SpanLink

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.django_db(transaction=True)
def test_the_python_sdk_exports_linked_spans_to_the_receiver(live_server):
    exporter = OTLPSpanExporter(
        endpoint=f"{live_server.url}/v1/traces", compression=Compression.Gzip, timeout=10
    )
    provider = TracerProvider(resource=Resource.create({"service.name": "sdk-test"}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("tests")
    with tracer.start_as_current_span("publish", kind=SpanKind.PRODUCER) as producer:
        producer_ctx = producer.get_span_context()
    with tracer.start_as_current_span(
        "consume",
        context=None,
        kind=SpanKind.CONSUMER,
        links=[Link(producer_ctx, {"link.type": "async_trigger"})],
    ):
        pass
    provider.shutdown()

    consumer = Span.objects.get(name="consume")
    assert consumer.service == "sdk-test"
    assert consumer.kind == 5  # OTLP CONSUMER, not the Python API's enum value
    link = SpanLink.objects.get(trace_id=consumer.trace_id, span_id=consumer.span_id)
    assert (link.linked_trace_id, link.linked_span_id) == (
        f"{producer_ctx.trace_id:032x}",
        f"{producer_ctx.span_id:016x}",
    )
    assert link.link_type == "async_trigger"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def gunicorn(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, Path]]:
    var = tmp_path_factory.mktemp("var")
    env = {
        **os.environ,
        "TRACEGRAPH_VAR_DIR": str(var),
        "TRACEGRAPH_DB_TIMEOUT": "1",
        "DJANGO_SETTINGS_MODULE": "tracegraph.settings",
    }
    env.pop("DATABASE_URL", None)
    bin_dir = Path(sys.executable).parent
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
        cwd=ROOT,
        env=env,
        check=True,
    )
    port = _free_port()
    proc = subprocess.Popen(
        [str(bin_dir / "gunicorn"), "tracegraph.wsgi", "--bind", f"127.0.0.1:{port}",
         "--workers", "1", "--threads", "2", "--worker-class", "gthread"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.1)
    else:
        proc.kill()
        pytest.fail(f"gunicorn did not start: {proc.stderr.read().decode() if proc.stderr else ''}")
    yield port, var / "tracegraph.sqlite3"
    proc.terminate()
    proc.wait(timeout=10)


def _request(port: int, method: str, path: str, body: bytes | None = None, **kw):  # type: ignore[no-untyped-def]
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=15)
    conn.request(method, path, body=body, **kw)
    response = conn.getresponse()
    return response.status, dict(response.getheaders()), response.read()


def test_gunicorn_reads_a_chunked_gzip_body_as_the_java_exporter_sends_it(gunicorn):
    port, _ = gunicorn
    body = gzip.compress(
        export_request([ids(0, trace=0xC1), ids(1, trace=0xC1)]).SerializeToString()
    )
    chunks = (body[i : i + 100] for i in range(0, len(body), 100))
    status, _, _ = _request(
        port, "POST", "/v1/traces", chunks,
        headers={"Content-Type": "application/x-protobuf", "Content-Encoding": "gzip"},
        encode_chunked=True,
    )  # fmt: skip
    assert status == 200
    status, _, payload = _request(port, "GET", f"/api/traces/{0xC1:032x}")
    assert status == 200
    assert len(json.loads(payload)["spans"]) == 2


def test_gunicorn_takes_a_collector_style_gzip_body_with_content_length(gunicorn):
    port, _ = gunicorn
    body = gzip.compress(export_request([ids(0, trace=0xC2)]).SerializeToString())
    status, headers, _ = _request(
        port, "POST", "/v1/traces", body,
        headers={"Content-Type": "application/x-protobuf", "Content-Encoding": "gzip"},
    )  # fmt: skip
    assert status == 200
    assert headers["Content-Type"] == "application/x-protobuf"


def test_storage_down_is_a_503_with_retry_after_and_nothing_half_written(gunicorn):
    port, db_file = gunicorn
    lock = sqlite3.connect(db_file, isolation_level=None)
    lock.execute("BEGIN EXCLUSIVE")  # another writer holds the database
    try:
        body = export_request([ids(0, trace=0xC3)]).SerializeToString()
        status, headers, _ = _request(
            port, "POST", "/v1/traces", body, headers={"Content-Type": "application/x-protobuf"}
        )
    finally:
        lock.execute("ROLLBACK")
        lock.close()
    assert status == 503
    assert headers["Retry-After"].isdigit()
    status, _, _ = _request(port, "GET", f"/api/traces/{0xC3:032x}")
    assert status == 404
