"""``manage.py demo``: loads once, says so the second time, fails loudly on a bad export."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from tracegraph.traces.demo import embedded_receiver
from tracegraph.traces.models import Span, Trace

pytestmark = pytest.mark.django_db(transaction=True)


def _demo(*args: str) -> str:
    out = StringIO()
    call_command("demo", *args, stdout=out)
    return out.getvalue()


def test_it_loads_the_demo_once() -> None:
    # No --endpoint: the command serves the app itself for the export.
    first = _demo("--once", "--serve-port", "8123")
    spans = Span.objects.count()
    assert spans > 250
    assert first.startswith(f"demo loaded: {spans} spans, {Trace.objects.count()} traces")
    batch = Trace.objects.get(root_service="settlement-batch", root_name="batch.process")
    assert f"batch trace: http://127.0.0.1:8123/traces/{batch.trace_id}" in first

    assert _demo("--once").strip() == "demo traces already loaded"
    assert Span.objects.count() == spans


def test_it_sends_to_an_endpoint_and_resending_replaces_the_same_traces() -> None:
    with embedded_receiver() as url:
        _demo("--endpoint", url)
        spans, traces = Span.objects.count(), Trace.objects.count()
        _demo("--endpoint", url)  # without --once: seeded ids, so an upsert
    assert (Span.objects.count(), Trace.objects.count()) == (spans, traces)


def test_a_failed_export_fails_the_command() -> None:
    with embedded_receiver() as url, pytest.raises(CommandError, match="HTTP 404"):
        _demo("--endpoint", url.replace("/v1/traces", "/v1/nowhere"))
    assert Span.objects.count() == 0
