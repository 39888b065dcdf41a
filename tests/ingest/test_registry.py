"""Format detection, parse_file, gzip and the format registry."""

from __future__ import annotations

import gzip
import subprocess
import sys
from pathlib import Path

import pytest

from tests.ingest.support import (
    PUBLIC,
    fixture_path,
    load,
    otlp_json_to_protobuf,
    request_with_scope,
    span_bytes,
    trace_bytes,
)
from tracegraph.domain.records import ParseResult
from tracegraph.ingest import (
    BodyTooLarge,
    ParseError,
    detect_and_parse,
    detect_format,
    get_format,
    parse_as,
    parse_file,
    registry,
)

#: Every public fixture, the format it must be detected as, and its span count.
FIXTURES = [
    ("otlp-proto_examples_trace.json", "otlp-json", 1),
    ("jaeger_memory_otel_traces_01.json", "otlp-json", 4),
    ("jaeger_integration_link_attributes_trace.json", "otlp-json", 1),
    ("jaeger_apiv3_snapshot_GetTrace.json", "otlp-json", 1),
    ("jaeger-ui_otlp2jaeger-multi-in.jsonl", "otlp-jsonl", 4),
    ("jaeger_uimodel_ui_01.json", "jaeger-json", 4),
    ("jaeger-ui_otlp2jaeger-out.json", "jaeger-json", 1),
    ("zipkin-lens_messaging-kafka.json", "zipkin-v2", 28),
]


def test_every_public_fixture_is_listed() -> None:
    """A fixture added to tests/fixtures/public without a detection case fails here."""
    on_disk = {p.name for p in PUBLIC.iterdir() if p.suffix in {".json", ".jsonl"}}
    assert on_disk == {name for name, _, _ in FIXTURES}


@pytest.mark.parametrize(("name", "expected", "count"), FIXTURES)
def test_each_real_fixture_is_detected_by_content(name: str, expected: str, count: int) -> None:
    """No content type: the body alone decides (JSON Lines included)."""
    body = fixture_path(name).read_bytes()

    assert detect_format(body) == expected
    assert len(detect_and_parse(body).spans) == count
    assert len(parse_as(expected, body).spans) == count


@pytest.mark.parametrize(("name", "expected", "count"), FIXTURES)
def test_parse_file_reads_plain_and_gzipped_files(
    tmp_path: Path, name: str, expected: str, count: int
) -> None:
    """``.gz`` files are inflated; the result equals the plain file's."""
    gz = tmp_path / f"{name}.gz"
    gz.write_bytes(gzip.compress(fixture_path(name).read_bytes()))

    plain = parse_file(fixture_path(name))
    assert len(plain.spans) == count
    assert parse_file(gz).spans == plain.spans


def protobuf_body() -> bytes:
    request, scope = request_with_scope()
    scope.spans.add(trace_id=trace_bytes(1), span_id=span_bytes(1), name="pb")
    return request.SerializeToString()


@pytest.mark.parametrize(
    "content_type", ["application/x-protobuf", "application/protobuf; charset=binary", ""]
)
def test_protobuf_by_content_type_or_by_sniffing(content_type: str) -> None:
    """The OTLP/HTTP content type decides; without one a non-JSON body is protobuf."""
    result = detect_and_parse(protobuf_body(), content_type=content_type)
    assert [s.name for s in result.spans] == ["pb"]


def test_gzipped_protobuf_body_and_pb_gz_file(tmp_path: Path) -> None:
    """A gzip body is recognised by its magic bytes, whatever the content type says."""
    body = gzip.compress(otlp_json_to_protobuf(load("jaeger_memory_otel_traces_01.json")))
    path = tmp_path / "export.pb.gz"
    path.write_bytes(body)

    assert len(detect_and_parse(body, content_type="application/x-protobuf").spans) == 4
    assert len(parse_file(path).spans) == 4


def test_json_content_type_with_a_binary_body_is_an_error() -> None:
    """A client that says JSON and sends protobuf gets told, not guessed at."""
    with pytest.raises(ParseError, match="not JSON or OTLP protobuf"):
        detect_and_parse(protobuf_body(), content_type="application/json")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'{"hello": "world"}', "not OTLP, Jaeger or Zipkin JSON: a JSON object with keys"),
        (b"[1, 2, 3]", "not OTLP, Jaeger or Zipkin JSON: a JSON list of 3 items"),
        (b'{"resourceSpans": [', "invalid JSON"),
        (b"\x00\x01garbage", "not an OTLP protobuf"),
        (b"<html>oops</html>", "not an OTLP protobuf"),
    ],
)
def test_unrecognised_bodies_raise_a_clear_parse_error(body: bytes, message: str) -> None:
    """One error type with a message the receiver can return as ``{"error": ...}``."""
    with pytest.raises(ParseError, match=message):
        detect_and_parse(body)


def test_a_gzip_bomb_stops_at_the_limit() -> None:
    """The limit applies to the inflated size, checked while inflating (413)."""
    bomb = gzip.compress(b"{" + b" " * 1_000_000 + b"}")
    with pytest.raises(BodyTooLarge):
        detect_and_parse(bomb, max_size=1000)
    with pytest.raises(BodyTooLarge):
        detect_and_parse(b"[" + b" " * 2000 + b"]", max_size=1000)


def test_a_corrupt_gzip_body_is_a_parse_error() -> None:
    with pytest.raises(ParseError, match="gzip"):
        detect_and_parse(gzip.compress(b"{}")[:-6])


def test_a_new_format_registers_with_the_decorator(monkeypatch: pytest.MonkeyPatch) -> None:
    """Plug points are registries: a format added by decorator is detected like the rest."""
    monkeypatch.setattr(registry, "_FORMATS", dict(registry._FORMATS))

    @registry.register_format("toy", matches=lambda doc: isinstance(doc, dict) and "toy" in doc)
    def parse_toy(data: object) -> ParseResult:
        return ParseResult(errors=["toy"])

    assert detect_format(b'{"toy": 1}') == "toy"
    assert detect_and_parse(b'{"toy": 1}').errors == ["toy"]
    assert get_format("toy").parse is parse_toy
    with pytest.raises(ParseError, match="unknown trace format 'nope'"):
        get_format("nope")


def test_the_ingest_package_imports_no_django() -> None:
    """The pure core stays usable from a notebook (DESIGN section 1)."""
    code = (
        "import sys, tracegraph.ingest; "
        "bad = sorted(m for m in sys.modules if m.split('.')[0] == 'django'); "
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).parents[2])
