"""The otlp-file backend: OTLP/JSON Lines files indexed in memory, re-read as they change.

The synthetic lines below make two traces joined by one link::

    trace 1  producer  "publish"  span 1 <──link──┐
    trace 2  consumer  "process"  span 2 ──────────┘
"""

from __future__ import annotations

import gzip
import os
import shutil
from pathlib import Path
from typing import Any

import orjson
import pytest
from pytest_django.fixtures import Settings

from tracegraph.backends import BackendUnavailable, OtlpFileBackend, TraceNotFound, get_backend
from tracegraph.backends import otlp_file as otlp_file_module
from tracegraph.ingest import parse_otlp_json_lines

from .server import FIXTURES

JS_TRACE = "c620759e5d60fafb8ee0922b30e06bc6"  # jaeger-ui_otlp2jaeger-multi-in.jsonl
T1, T2, T3 = (f"{n:032x}" for n in (1, 2, 3))


def line(
    trace: str,
    span: int,
    name: str,
    *,
    service: str = "shop",
    start: int = 1_000,
    kind: int = 1,
    links: tuple[tuple[str, int], ...] = (),
) -> bytes:
    """One export, as the Collector's file exporter writes it: one JSON object and a newline."""
    doc: dict[str, Any] = {
        "resourceSpans": [
            {
                "resource": {
                    "attributes": [{"key": "service.name", "value": {"stringValue": service}}]
                },
                "scopeSpans": [
                    {
                        "scope": {"name": "test"},
                        "spans": [
                            {
                                "traceId": trace,
                                "spanId": f"{span:016x}",
                                "name": name,
                                "kind": kind,
                                "startTimeUnixNano": str(start),
                                "endTimeUnixNano": str(start + 500),
                                "links": [{"traceId": t, "spanId": f"{s:016x}"} for t, s in links],
                            }
                        ],
                    }
                ],
            }
        ]
    }
    return orjson.dumps(doc) + b"\n"


def touch_later(path: Path) -> None:
    """Move the mtime on, as a write a moment later would (filesystems have coarse clocks)."""
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))


@pytest.fixture
def traces_file(tmp_path: Path) -> Path:
    path = tmp_path / "traces.jsonl"
    path.write_bytes(line(T1, 1, "publish", service="producer", kind=4))
    return path


def test_get_backend_reads_the_file_setting(settings: Settings, tmp_path: Path) -> None:
    shutil.copy(FIXTURES / "jaeger-ui_otlp2jaeger-multi-in.jsonl", tmp_path / "export.jsonl")
    settings.TRACEGRAPH_BACKEND = "otlp-file"
    settings.TRACEGRAPH_OTLP_FILE = str(tmp_path / "export.jsonl")

    backend = get_backend()

    assert isinstance(backend, OtlpFileBackend)
    spans = backend.get_trace(JS_TRACE)
    assert len(spans) == 4 and {s.service for s in spans} == {"example-trace"}
    [row] = backend.search()
    assert (row.trace_id, row.root_name, row.span_count) == (JS_TRACE, "main", 4)


def test_an_appended_line_is_read_and_only_it(
    traces_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    backend = OtlpFileBackend(traces_file)
    assert [s.name for s in backend.get_trace(T1)] == ["publish"]
    parsed: list[bytes] = []
    real = parse_otlp_json_lines

    def spy(chunk: bytes) -> Any:
        parsed.append(chunk)
        return real(chunk)

    monkeypatch.setattr(otlp_file_module, "parse_otlp_json_lines", spy)
    new = line(T2, 2, "process", service="consumer", kind=5, links=((T1, 1),))
    with traces_file.open("ab") as handle:
        handle.write(new)

    [process] = backend.get_trace(T2)

    assert process.name == "process"
    assert parsed == [new]  # the first line was not read again
    [link] = backend.links_into([T1])
    assert (link.trace_id, link.span_id, link.linked_span_id) == (T2, f"{2:016x}", f"{1:016x}")
    assert backend.get_trace(T1)[0].name == "publish"  # still there


def test_a_line_still_being_written_waits_for_its_newline(traces_file: Path) -> None:
    backend = OtlpFileBackend(traces_file)
    backend.get_trace(T1)
    new = line(T2, 2, "process")
    with traces_file.open("ab") as handle:
        handle.write(new[:40])
    with pytest.raises(TraceNotFound):
        backend.get_trace(T2)
    with traces_file.open("ab") as handle:
        handle.write(new[40:])
    assert [s.name for s in backend.get_trace(T2)] == ["process"]
    assert backend.rejected == 0  # the half line was never parsed


def test_a_rewritten_file_is_read_again(traces_file: Path) -> None:
    backend = OtlpFileBackend(traces_file)
    backend.get_trace(T1)
    traces_file.write_bytes(line(T3, 3, "other"))  # truncated and rewritten
    touch_later(traces_file)
    assert [s.name for s in backend.get_trace(T3)] == ["other"]
    with pytest.raises(TraceNotFound, match="not found in otlp-file"):
        backend.get_trace(T1)


def test_a_resent_span_replaces_the_old_one_and_its_links(traces_file: Path) -> None:
    backend = OtlpFileBackend(traces_file)
    with traces_file.open("ab") as handle:
        handle.write(line(T2, 2, "process", links=((T1, 1),)))
    assert len(backend.links_into([T1])) == 1
    with traces_file.open("ab") as handle:
        handle.write(line(T2, 2, "process (retried)", links=((T3, 9),)))
    assert [s.name for s in backend.get_trace(T2)] == ["process (retried)"]
    assert backend.links_into([T1]) == []
    assert [lk.linked_trace_id for lk in backend.links_into([T3])] == [T3]


def test_a_folder_of_rotated_files_with_gzip(tmp_path: Path) -> None:
    (tmp_path / "traces-2024-05-01T10-00-00.000.jsonl.gz").write_bytes(
        gzip.compress(line(T1, 1, "publish", service="producer", start=1_000))
    )
    (tmp_path / "traces.jsonl").write_bytes(
        line(T2, 2, "process", service="consumer", start=5_000, links=((T1, 1),))
    )
    (tmp_path / "README.md").write_text("not traces")
    backend = OtlpFileBackend(tmp_path)

    assert [r.trace_id for r in backend.search()] == [T2, T1]  # most recent first
    [producer] = backend.search(service="producer")
    assert (producer.links_in, producer.links_out) == (1, 0)
    assert [r.trace_id for r in backend.search(name="PROC")] == [T2]
    assert [s.trace_id for s in backend.spans_of([T2, T1, T2])] == [T2, T1]
    assert backend.incoming_known is True
    assert [lk.trace_id for lk in backend.links_into([T1])] == [T2]

    (tmp_path / "traces-2024-05-01T10-00-00.000.jsonl.gz").unlink()  # rotated away
    assert [r.trace_id for r in backend.search()] == [T2]
    assert backend.rejected == 0


def test_bad_lines_are_counted_and_skipped(traces_file: Path) -> None:
    with traces_file.open("ab") as handle:
        handle.write(b"not json\n")
        handle.write(line(T2, 2, "process"))
    backend = OtlpFileBackend(traces_file)
    assert [r.trace_id for r in backend.search()] == [T1, T2]  # same start: by id
    assert backend.rejected == 1
    assert backend.errors[0].startswith("traces.jsonl: line 2: invalid JSON")


def test_a_missing_path_is_unavailable(tmp_path: Path) -> None:
    backend = OtlpFileBackend(tmp_path / "nowhere.jsonl")
    with pytest.raises(BackendUnavailable, match=r"TRACEGRAPH_OTLP_FILE .*nowhere.jsonl does not"):
        backend.get_trace(T1)
