"""The registry of trace formats, and detection of the format of a body.

Each parser module registers itself with :func:`register_format` (NetBox
registers its data backends the same way), so the receiver, the file import
and the backends share one table and one detection rule::

    @register_format("zipkin-v2", matches=looks_like_zipkin)
    def parse_zipkin_v2(data: Any) -> ParseResult: ...

A *raw* format's parser takes the body bytes (OTLP protobuf, JSON Lines);
the others take the decoded JSON document and say, through ``matches``,
whether a document is theirs. The built-in matchers are disjoint, so the
order they are tried in (registration order) does not matter.

>>> import tracegraph.ingest  # registers the built-in formats
>>> sorted(f.name for f in formats())
['jaeger-json', 'otlp-json', 'otlp-jsonl', 'otlp-proto', 'zipkin-v2']
>>> result = detect_and_parse(b'{"resourceSpans": []}')
>>> result.spans, result.rejected
([], 0)
>>> detect_and_parse(b'{"x": 1}')
Traceback (most recent call last):
...
tracegraph.ingest.errors.ParseError: not OTLP, Jaeger or Zipkin JSON: a JSON object with keys ['x']
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import orjson

from tracegraph.domain.gc import gc_paused
from tracegraph.domain.records import ParseResult
from tracegraph.ingest.errors import BodyTooLarge, ParseError

__all__ = [
    "DEFAULT_MAX_SIZE",
    "TraceFormat",
    "detect_and_parse",
    "detect_format",
    "formats",
    "get_format",
    "gunzip",
    "parse_as",
    "parse_file",
    "register_format",
]

#: Largest body accepted after gunzip (DESIGN section 8: 64 MiB).
DEFAULT_MAX_SIZE = 64 * 1024 * 1024

PROTOBUF_FORMAT = "otlp-proto"
JSON_LINES_FORMAT = "otlp-jsonl"

_GZIP_MAGIC = b"\x1f\x8b"
_WHITESPACE = b" \t\r\n"
_PROTOBUF_SUFFIXES = {".pb", ".bin", ".binpb", ".protobuf"}
_JSON_LINES_SUFFIXES = {".jsonl", ".ndjson"}


@dataclass(frozen=True, slots=True)
class TraceFormat:
    """One registered format.

    ``parse`` takes bytes when ``raw`` is true, else the decoded JSON
    document; ``matches`` (JSON formats only) recognises a decoded document.
    """

    name: str
    parse: Callable[[Any], ParseResult]
    content_types: tuple[str, ...] = ()
    matches: Callable[[Any], bool] | None = None
    raw: bool = False


_FORMATS: dict[str, TraceFormat] = {}

ParserT = TypeVar("ParserT", bound=Callable[..., ParseResult])


def register_format(
    name: str,
    *,
    content_types: tuple[str, ...] = (),
    matches: Callable[[Any], bool] | None = None,
    raw: bool = False,
) -> Callable[[ParserT], ParserT]:
    """Register the decorated parser under ``name``; the function is returned unchanged."""

    def decorator(parser: ParserT) -> ParserT:
        _FORMATS[name] = TraceFormat(name, parser, content_types, matches, raw)
        return parser

    return decorator


def formats() -> list[TraceFormat]:
    """The registered formats, in detection order."""
    return list(_FORMATS.values())


def get_format(name: str) -> TraceFormat:
    """The format called ``name``; :class:`ParseError` names the known ones if absent."""
    try:
        return _FORMATS[name]
    except KeyError:
        raise ParseError(f"unknown trace format {name!r}; known: {', '.join(_FORMATS)}") from None


def gunzip(body: bytes, *, max_size: int | None = DEFAULT_MAX_SIZE) -> bytes:
    """Decompress a gzip body (all members), refusing to grow past ``max_size``.

    The limit is checked while inflating, so a small gzip bomb never
    allocates its full size.

    >>> import gzip
    >>> gunzip(gzip.compress(b"abc") + gzip.compress(b"def"))
    b'abcdef'
    >>> gunzip(gzip.compress(b"x" * 100), max_size=10)
    Traceback (most recent call last):
    ...
    tracegraph.ingest.errors.BodyTooLarge: body larger than 10 bytes after decompression
    """
    chunks: list[bytes] = []
    size = 0
    data = body
    try:
        while data:
            inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
            room = 0 if max_size is None else max_size - size + 1
            chunk = inflater.decompress(data, room)
            size += len(chunk)
            if max_size is not None and size > max_size:
                raise BodyTooLarge(max_size)
            chunks.append(chunk)
            if not inflater.eof:
                raise ParseError("truncated gzip body")
            data = inflater.unused_data
    except zlib.error as exc:
        raise ParseError(f"bad gzip body: {exc}") from exc
    return b"".join(chunks)


def _mime(content_type: str) -> str:
    return content_type.split(";", 1)[0].strip().lower()


def _describe(doc: Any) -> str:
    if isinstance(doc, dict):
        return f"a JSON object with keys {sorted(doc)[:8]}"
    if isinstance(doc, list):
        kinds = sorted({type(item).__name__ for item in doc[:50]})
        return f"a JSON list of {len(doc)} items ({', '.join(kinds) or 'empty'})"
    return f"a JSON {type(doc).__name__}"


def _looks_like_json_lines(body: bytes) -> bool:
    first = body.lstrip().split(b"\n", 1)[0]
    try:
        doc = orjson.loads(first)
    except orjson.JSONDecodeError:
        return False
    return isinstance(doc, dict) and ("resourceSpans" in doc or "resource_spans" in doc)


@gc_paused()
def parse_as(name: str, body: bytes) -> ParseResult:
    """Parse ``body`` as the format called ``name`` (no detection)."""
    fmt = get_format(name)
    if fmt.raw:
        return fmt.parse(body)
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise ParseError(f"invalid JSON: {exc}") from exc
    return fmt.parse(doc)


@gc_paused()
def detect_and_parse(
    body: bytes, *, content_type: str = "", max_size: int | None = DEFAULT_MAX_SIZE
) -> ParseResult:
    """Recognise the format of ``body`` and parse it.

    - gzip is undone first (by its magic bytes), within ``max_size``;
    - a content type registered by a raw format (``application/x-protobuf``,
      ``application/x-ndjson``) decides;
    - a body that does not start with ``{`` or ``[`` is OTLP protobuf when the
      content type is empty, ``application/octet-stream`` or protobuf;
    - otherwise the JSON document is offered to each JSON format in turn;
      several JSON objects, one a line, each with ``resourceSpans``, are JSONL.

    Raises :class:`ParseError` when nothing fits.
    """
    fmt, payload = _detect(_inflate(body, max_size), _mime(content_type))
    return fmt.parse(payload)


def detect_format(
    body: bytes, *, content_type: str = "", max_size: int | None = DEFAULT_MAX_SIZE
) -> str:
    """The name of the format :func:`detect_and_parse` would parse ``body`` as.

    >>> import tracegraph.ingest
    >>> detect_format(b'[{"traceId": "1", "id": "2"}]')
    'zipkin-v2'
    >>> detect_format(b"", content_type="application/x-protobuf")
    'otlp-proto'
    """
    return _detect(_inflate(body, max_size), _mime(content_type))[0].name


def _inflate(body: bytes, max_size: int | None) -> bytes:
    if body[:2] == _GZIP_MAGIC:
        return gunzip(body, max_size=max_size)
    if max_size is not None and len(body) > max_size:
        raise BodyTooLarge(max_size)
    return body


def _detect(body: bytes, mime: str) -> tuple[TraceFormat, Any]:
    """The format of ``body`` and what its parser takes (the bytes or the decoded JSON)."""
    if mime:
        for fmt in _FORMATS.values():
            if fmt.raw and mime in fmt.content_types:
                return fmt, body
    text = body.lstrip(_WHITESPACE)
    if not text[:1] or text[:1] not in b"{[":
        if not mime or mime == "application/octet-stream" or "protobuf" in mime:
            return get_format(PROTOBUF_FORMAT), body
        if not text:
            raise ParseError("empty body")
        raise ParseError(f"content type {mime!r} but the body is not JSON or OTLP protobuf")
    try:
        doc = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        if b"\n" in text.rstrip() and _looks_like_json_lines(text):
            return get_format(JSON_LINES_FORMAT), text
        raise ParseError(f"invalid JSON: {exc}") from exc
    for fmt in _FORMATS.values():
        if fmt.matches is not None and fmt.matches(doc):
            return fmt, doc
    raise ParseError(f"not OTLP, Jaeger or Zipkin JSON: {_describe(doc)}")


def parse_file(path: str | Path, *, max_size: int | None = None) -> ParseResult:
    """Read a trace file (optionally ``.gz``) and parse it by content.

    The suffix under ``.gz`` only hints: ``.pb``/``.bin`` mean protobuf,
    ``.jsonl``/``.ndjson`` JSON Lines; anything else is detected.
    """
    path = Path(path)
    body = path.read_bytes()
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes.pop()
    if body[:2] == _GZIP_MAGIC:
        body = gunzip(body, max_size=max_size)
    suffix = suffixes[-1] if suffixes else ""
    if suffix in _PROTOBUF_SUFFIXES:
        content_type = "application/x-protobuf"
    elif suffix in _JSON_LINES_SUFFIXES:
        content_type = "application/x-ndjson"
    else:
        content_type = ""
    return detect_and_parse(body, content_type=content_type, max_size=max_size)
