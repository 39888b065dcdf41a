"""``manage.py import_traces``: files, folders, stdin, every format, a summary."""

from __future__ import annotations

import gzip
import io
import shutil
import sys
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from tracegraph.traces.models import Span, SpanLink, Trace

pytestmark = pytest.mark.django_db
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "public"


def run(*args: str, stdin: bytes | None = None) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    if stdin is not None:
        old = sys.stdin
        sys.stdin = io.TextIOWrapper(io.BytesIO(stdin))
    try:
        call_command("import_traces", *args, stdout=out, stderr=err)
    finally:
        if stdin is not None:
            sys.stdin = old
    return out.getvalue(), err.getvalue()


def test_it_imports_a_folder_of_every_format_and_prints_a_summary(tmp_path):
    for name in (
        "otlp-proto_examples_trace.json",  # OTLP JSON
        "jaeger-ui_otlp2jaeger-multi-in.jsonl",  # OTLP JSON Lines
        "jaeger_uimodel_ui_01.json",  # Jaeger JSON, bare trace
        "zipkin-lens_messaging-kafka.json",  # Zipkin v2
        "jaeger_memory_otel_traces_01.json",  # OTLP JSON with cross-trace links
    ):
        shutil.copy(FIXTURES / name, tmp_path / name)
    out, err = run(str(tmp_path))
    assert "5 file(s)" in out
    assert f"{Span.objects.count()} spans in {Trace.objects.count()} traces" in out
    assert f"{SpanLink.objects.count()} links stored" in out
    assert Span.objects.filter(service="servicea").exists()  # the Zipkin file
    assert "spans]" in err or "spans" in err  # the progress bar went to stderr


def test_it_reads_stdin_and_gzip(tmp_path):
    body = gzip.compress((FIXTURES / "otlp-proto_examples_trace.json").read_bytes())
    out, _ = run("-", stdin=body)
    assert "1 spans in 1 traces" in out


def test_reimporting_the_same_file_does_not_duplicate():
    path = str(FIXTURES / "jaeger_memory_otel_traces_01.json")
    run(path)
    first = (Span.objects.count(), SpanLink.objects.count())
    run(path)
    assert (Span.objects.count(), SpanLink.objects.count()) == first


def test_a_file_that_is_not_traces_is_reported(tmp_path):
    bad = tmp_path / "notes.json"
    bad.write_text('{"hello": "world"}')
    with pytest.raises(CommandError, match="no file could be read"):
        run(str(bad))


def test_a_missing_path_is_an_error():
    with pytest.raises(CommandError, match="no such file"):
        run("/nonexistent/traces.json")
