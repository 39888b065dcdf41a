"""The ``otlp-file`` backend: OTLP/JSON Lines as the Collector's file exporter writes.

``TRACEGRAPH_OTLP_FILE`` names one file or a folder of them (``*.json``,
``*.jsonl``, ``*.ndjson``, each optionally ``.gz``: the exporter's rotation
leaves several). The spans are held in memory, indexed by trace and, for
links, by target trace, so incoming links are known.

Every read first checks each file's size and mtime. A file that only grew is
read from where the last read stopped (the exporter appends one line per
export); any other change (rewritten, truncated, rotated, gzip) re-reads the
file and rebuilds the index. A last line without its newline yet is left for
the next read unless it is already complete JSON.
"""

from __future__ import annotations

import contextlib
import gzip
import os
import threading
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import orjson
from django.core.exceptions import ImproperlyConfigured

from tracegraph.backends.base import (
    BackendUnavailable,
    TraceNotFound,
    register_backend,
    setting,
    summarise_traces,
    trace_id_or_not_found,
)
from tracegraph.domain.ids import normalize_trace_id
from tracegraph.domain.records import LinkRecord, ParseResult, SpanRecord, TraceRecord
from tracegraph.ingest import ParseError, detect_and_parse, parse_otlp_json_lines

__all__ = ["FILE_SUFFIXES", "OtlpFileBackend"]

FILE_SUFFIXES = frozenset({".json", ".jsonl", ".ndjson"})
_TAIL = 64  # bytes remembered before the read offset, to tell growth from a rewrite

LinkKey = tuple[str, str, int]  # holder trace, holder span, link index


@dataclass
class _FileState:
    inode: int
    size: int
    mtime_ns: int
    offset: int = 0  # bytes parsed so far (whole lines)
    tail: bytes = b""  # the last bytes before ``offset``
    spans: list[SpanRecord] = field(default_factory=list)


def _is_trace_file(path: Path) -> bool:
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes.pop()
    return bool(suffixes) and suffixes[-1] in FILE_SUFFIXES and not path.name.startswith(".")


@register_backend("otlp-file")
class OtlpFileBackend:
    """Traces read from OTLP/JSON Lines files, indexed in memory."""

    name = "otlp-file"
    incoming_known = True

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.rejected = 0  # spans or lines that could not be read, over all reads
        self.errors: list[str] = []
        self._lock = threading.RLock()
        self._files: dict[Path, _FileState] = {}
        self._spans: dict[str, dict[str, SpanRecord]] = {}
        self._into: dict[str, dict[LinkKey, LinkRecord]] = {}
        self._summaries: dict[str, TraceRecord] = {}

    @classmethod
    def from_settings(cls) -> OtlpFileBackend:
        path = str(setting("TRACEGRAPH_OTLP_FILE")).strip()
        if not path:
            raise ImproperlyConfigured(
                "TRACEGRAPH_BACKEND='otlp-file' needs TRACEGRAPH_OTLP_FILE "
                "(a file or folder of OTLP/JSON Lines)"
            )
        return cls(path)

    # -- reading files ---------------------------------------------------------

    def _paths(self) -> list[Path]:
        if self.path.is_dir():
            return sorted(p for p in self.path.iterdir() if p.is_file() and _is_trace_file(p))
        if self.path.is_file():
            return [self.path]
        raise BackendUnavailable(f"TRACEGRAPH_OTLP_FILE {self.path} does not exist")

    def _record(self, result: ParseResult, path: Path) -> None:
        self.rejected += result.rejected
        room = 20 - len(self.errors)
        self.errors.extend(f"{path.name}: {e}" for e in result.errors[: max(0, room)])

    def _read_lines(self, path: Path, state: _FileState, size: int) -> ParseResult:
        """Parse the whole lines between ``state.offset`` and ``size``; advance the offset."""
        with path.open("rb") as handle:
            handle.seek(state.offset)
            data = handle.read(size - state.offset)
        end = data.rfind(b"\n") + 1
        rest = data[end:]
        if rest.strip():
            try:
                orjson.loads(rest)  # a complete last line without its newline
                end = len(data)
            except orjson.JSONDecodeError:
                pass  # still being written: read it next time
        chunk = data[:end]
        state.offset += len(chunk)
        state.tail = (state.tail + chunk)[-_TAIL:]
        return parse_otlp_json_lines(chunk)

    def _read_whole(self, path: Path, stat: os.stat_result) -> _FileState:
        state = _FileState(stat.st_ino, stat.st_size, stat.st_mtime_ns)
        if path.suffix.lower() == ".gz":
            state.offset = stat.st_size
            try:
                body = gzip.decompress(path.read_bytes())
            except (OSError, EOFError, zlib.error) as exc:  # e.g. still being written
                result = ParseResult()
                result.reject(f"unreadable gzip: {exc}")
                self._record(result, path)
                return state
            result = parse_otlp_json_lines(body)
        else:
            result = self._read_lines(path, state, stat.st_size)
            body = b""
        if not result.spans and result.rejected:
            # Not JSON Lines: maybe one pretty-printed OTLP/JSON document.
            with contextlib.suppress(ParseError):
                result = detect_and_parse(body or path.read_bytes(), max_size=None)
        self._record(result, path)
        state.spans = result.spans
        return state

    def _grew(self, path: Path, state: _FileState, stat: os.stat_result) -> bool:
        """Whether the file only had lines appended since the last read."""
        if path.suffix.lower() == ".gz" or stat.st_ino != state.inode or stat.st_size < state.size:
            return False
        if stat.st_size == state.size:
            return False  # same size but a new mtime: rewritten in place
        start = state.offset - len(state.tail)
        with path.open("rb") as handle:
            handle.seek(start)
            return handle.read(len(state.tail)) == state.tail

    def _refresh(self) -> None:
        """Bring the index up to date with the files (call with the lock held)."""
        paths = self._paths()
        rebuild = bool(set(self._files) - set(paths))
        for gone in set(self._files) - set(paths):
            del self._files[gone]
        added: list[SpanRecord] = []
        for path in paths:
            try:
                stat = path.stat()
            except FileNotFoundError:  # rotated away between listing and stat
                rebuild = rebuild or self._files.pop(path, None) is not None
                continue
            state = self._files.get(path)
            if state is not None and (stat.st_ino, stat.st_size, stat.st_mtime_ns) == (
                state.inode,
                state.size,
                state.mtime_ns,
            ):
                continue
            if state is not None and self._grew(path, state, stat):
                result = self._read_lines(path, state, stat.st_size)
                self._record(result, path)
                new = result.spans
                state.size, state.mtime_ns = stat.st_size, stat.st_mtime_ns
                state.spans.extend(new)
                added.extend(new)
            else:
                self._files[path] = self._read_whole(path, stat)
                rebuild = True
        if rebuild:
            self._spans.clear()
            self._into.clear()
            self._summaries.clear()
            for state in self._files.values():
                self._add(state.spans)
        else:
            self._add(added)

    def _add(self, spans: Sequence[SpanRecord]) -> None:
        for span in spans:
            in_trace = self._spans.setdefault(span.trace_id, {})
            old = in_trace.get(span.span_id)
            if old is not None:  # a re-sent span replaces the old one, links and all
                for link in old.links:
                    self._into.get(link.linked_trace_id, {}).pop(
                        (link.trace_id, link.span_id, link.index), None
                    )
                    self._summaries.pop(link.linked_trace_id, None)
            in_trace[span.span_id] = span
            self._summaries.pop(span.trace_id, None)
            for link in span.links:
                if link.invalid:
                    continue
                into = self._into.setdefault(link.linked_trace_id, {})
                into[(link.trace_id, link.span_id, link.index)] = link
                self._summaries.pop(link.linked_trace_id, None)

    # -- the backend API -------------------------------------------------------

    def _trace_spans(self, trace_id: str) -> list[SpanRecord]:
        spans = self._spans.get(trace_id) or {}
        return sorted(spans.values(), key=lambda s: (s.start, s.span_id))

    def get_trace(self, trace_id: str) -> list[SpanRecord]:
        normal = trace_id_or_not_found(trace_id, self.name)
        with self._lock:
            self._refresh()
            spans = self._trace_spans(normal)
        if not spans:
            raise TraceNotFound(normal, self.name)
        return spans

    def spans_of(self, trace_ids: Sequence[str]) -> list[SpanRecord]:
        ids = [t for t in dict.fromkeys(normalize_trace_id(t) for t in trace_ids) if t]
        with self._lock:
            self._refresh()
            return [s for t in ids for s in self._trace_spans(t)]

    def links_into(self, trace_ids: Sequence[str]) -> list[LinkRecord]:
        ids = [t for t in dict.fromkeys(normalize_trace_id(t) for t in trace_ids) if t]
        with self._lock:
            self._refresh()
            return [
                link
                for t in ids
                for _, link in sorted((self._into.get(t) or {}).items(), key=lambda kv: kv[0])
            ]

    def search(self, *, service: str = "", name: str = "", limit: int = 50) -> list[TraceRecord]:
        """Like the local store: by root service, and root span name containing ``name``."""
        with self._lock:
            self._refresh()
            for trace_id, spans in self._spans.items():
                if trace_id not in self._summaries:
                    links_in = {trace_id: len(self._into.get(trace_id) or ())}
                    self._summaries[trace_id] = summarise_traces(spans.values(), links_in=links_in)[
                        0
                    ]
            rows = list(self._summaries.values())
        needle = name.lower()
        rows = [
            r
            for r in rows
            if (not service or r.root_service == service)
            and (not needle or needle in r.root_name.lower())
        ]
        rows.sort(key=lambda r: (-r.start, r.trace_id))
        return rows[:limit]
