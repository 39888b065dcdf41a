"""Import trace files of any supported format into the store."""

from __future__ import annotations

import gzip
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tracegraph.domain import ParseResult, SpanRecord
from tracegraph.ingest.errors import ParseError
from tracegraph.ingest.registry import detect_and_parse
from tracegraph.traces.services import trace_batch_ingest

__all__ = ["ImportSummary", "trace_body_import", "trace_files_collect"]

BATCH = 1000
SUFFIXES = (".json", ".jsonl", ".ndjson", ".pb", ".protobuf", ".bin", ".gz")


@dataclass(slots=True)
class ImportSummary:
    files: int = 0
    spans: int = 0
    traces: set[str] = field(default_factory=set)
    links: int = 0
    rejected: int = 0
    failed_files: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def as_text(self) -> str:
        text = (
            f"{self.files} file(s): {self.spans} spans in {len(self.traces)} traces, "
            f"{self.links} links stored, {self.rejected} spans rejected"
        )
        if self.failed_files:
            text += f", {len(self.failed_files)} file(s) not read"
        return text


def trace_files_collect(paths: Iterable[Path]) -> list[Path]:
    """Files under ``paths`` (folders recursively), trace-looking ones only from folders."""
    out: list[Path] = []
    for path in paths:
        if path.is_dir():
            out.extend(
                p for p in sorted(path.rglob("*")) if p.is_file() and p.name.endswith(SUFFIXES)
            )
        else:
            out.append(path)
    return out


def _batches(spans: Sequence[SpanRecord], size: int = BATCH) -> Iterator[Sequence[SpanRecord]]:
    for i in range(0, len(spans), size):
        yield spans[i : i + size]


def trace_body_import(
    *,
    body: bytes,
    name: str,
    summary: ImportSummary,
    content_type: str = "",
    on_progress: Callable[[int, int], None] | None = None,
) -> None:
    """Parse one file's bytes and store its spans in batches, adding to ``summary``.

    A body that is not a trace format is recorded in ``summary.failed_files``.
    """
    summary.files += 1
    try:
        if body[:2] == b"\x1f\x8b":  # gzip, whatever the file is called
            body = gzip.decompress(body)
        result: ParseResult = detect_and_parse(body, content_type=content_type)
    except (ParseError, OSError, EOFError) as exc:
        summary.failed_files.append(name)
        summary.errors.append(f"{name}: {exc}")
        return
    summary.rejected += result.rejected
    summary.errors.extend(f"{name}: {e}" for e in result.errors[:5])
    done = 0
    for batch in _batches(result.spans):
        written = trace_batch_ingest(spans=batch)
        summary.spans += written.spans
        summary.links += written.links
        summary.traces.update(s.trace_id for s in batch)
        done += len(batch)
        if on_progress:
            on_progress(done, len(result.spans))
