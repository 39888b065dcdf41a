"""OTLP/HTTP trace receiver: ``POST /v1/traces`` (DESIGN §8).

Speaks what OpenTelemetry exporters really send: protobuf or JSON, gzip or
plain, with a Content-Length or chunked (the Java exporter streams gzip
bodies chunked; gunicorn passes those through, Django's ``request.body``
would read them as empty). Answers in the request's content type, with
``partialSuccess`` when some spans were rejected.

With ``TRACEGRAPH_INGEST_ASYNC=1`` and a ``REDIS_URL`` the body is still
read and parsed here (bad bodies get their 400 at once), then queued for
the ``traces.ingest_batch`` task; a full queue or an unreachable Redis is a
503 with ``Retry-After``.
"""

from __future__ import annotations

import hmac
import logging
import zlib
from typing import Any, BinaryIO

import orjson
from django.conf import settings
from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from kombu.exceptions import OperationalError as KombuOperationalError
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceResponse,
)

from tracegraph.domain import ParseResult
from tracegraph.domain.gc import gc_paused
from tracegraph.ingest.errors import BodyTooLarge, ParseError
from tracegraph.ingest.otlp_json import parse_otlp_json
from tracegraph.ingest.otlp_proto import parse_otlp_protobuf
from tracegraph.traces.jobs import QueueFull, QueueUnavailable, ingest_body_stash
from tracegraph.traces.services import trace_batch_ingest
from tracegraph.traces.tasks import ingest_batch

__all__ = ["receive_traces"]

log = logging.getLogger(__name__)

PROTOBUF = "application/x-protobuf"
JSON = "application/json"
_READ_CHUNK = 1 << 20


class Rejected(Exception):
    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}


def _status_protobuf(code: int, message: str) -> bytes:
    """Encode a ``google.rpc.Status`` {code=1, message=2}: what OTLP asks for on errors."""
    text = message.encode()
    out = bytearray()
    if code:
        out += b"\x08" + _varint(code)
    out += b"\x12" + _varint(len(text)) + text
    return bytes(out)


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


# gRPC codes used in the Status body, as the OTLP spec pairs them with HTTP.
_GRPC_CODE = {400: 3, 401: 16, 405: 12, 413: 8, 415: 3, 503: 14}


def _error(status: int, message: str, content_type: str, headers: dict[str, str]) -> HttpResponse:
    if content_type == PROTOBUF:
        body = _status_protobuf(_GRPC_CODE.get(status, 2), message)
    else:
        content_type = JSON
        body = orjson.dumps(
            {"code": _GRPC_CODE.get(status, 2), "message": message, "error": message}
        )
    response = HttpResponse(body, status=status, content_type=content_type)
    for key, value in headers.items():
        response[key] = value
    return response


def _read_raw(request: HttpRequest, limit: int) -> bytes:
    """The request body as sent (maybe compressed), at most ``limit`` bytes."""
    length = request.META.get("CONTENT_LENGTH")
    if length:
        try:
            size = int(length)
        except ValueError:
            raise Rejected(400, f"bad Content-Length {length!r}") from None
        if size > limit:
            raise BodyTooLarge(limit)
        return request.read(size) if size else b""
    stream: BinaryIO | None = request.META.get("wsgi.input")
    if stream is None or not request.META.get("wsgi.input_terminated"):
        # A server that does not de-chunk would leave us reading forever.
        return b""
    parts: list[bytes] = []
    total = 0
    while True:
        chunk = stream.read(_READ_CHUNK)
        if not chunk:
            return b"".join(parts)
        total += len(chunk)
        if total > limit:
            raise BodyTooLarge(limit)
        parts.append(chunk)


def _decode(raw: bytes, encoding: str, limit: int) -> bytes:
    """Undo Content-Encoding, stopping at ``limit`` output bytes (a gzip bomb stays small)."""
    if encoding in ("", "identity"):
        if len(raw) > limit:
            raise BodyTooLarge(limit)
        return raw
    if encoding in ("gzip", "x-gzip"):
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    elif encoding == "deflate":
        inflater = zlib.decompressobj()
    else:
        raise Rejected(415, f"unsupported Content-Encoding {encoding!r}; use gzip or none")
    out = bytearray()
    data = raw
    try:
        while data:
            out += inflater.decompress(data, limit + 1 - len(out))
            if len(out) > limit:
                raise BodyTooLarge(limit)
            data = inflater.unconsumed_tail
        out += inflater.flush()
    except zlib.error as exc:
        raise Rejected(400, f"body is not valid {encoding}: {exc}") from None
    if not inflater.eof:
        raise Rejected(400, f"body is truncated {encoding}")
    if len(out) > limit:
        raise BodyTooLarge(limit)
    return bytes(out)


def _media_type(request: HttpRequest) -> str:
    return (request.META.get("CONTENT_TYPE") or "").split(";")[0].strip().lower()


@gc_paused()  # decoding a body allocates tens of thousands of objects that all stay alive
def _parse(body: bytes, content_type: str) -> ParseResult:
    try:
        if content_type == PROTOBUF:
            return parse_otlp_protobuf(body)
        try:
            data: Any = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise Rejected(400, f"body is not JSON: {exc}") from None
        if not isinstance(data, dict):
            raise Rejected(400, "body is not an OTLP ExportTraceServiceRequest object")
        return parse_otlp_json(data)
    except ParseError as exc:
        raise Rejected(400, str(exc)) from None


def _success(result: ParseResult, content_type: str) -> HttpResponse:
    message = "; ".join(result.errors)
    if content_type == PROTOBUF:
        reply = ExportTraceServiceResponse()
        if result.rejected:
            reply.partial_success.rejected_spans = result.rejected
            reply.partial_success.error_message = message
        return HttpResponse(reply.SerializeToString(), content_type=PROTOBUF)
    payload: dict[str, Any] = {}
    if result.rejected:
        # proto3 JSON mapping writes int64 as a string.
        payload["partialSuccess"] = {"rejectedSpans": str(result.rejected), "errorMessage": message}
    return HttpResponse(orjson.dumps(payload), content_type=JSON)


def _authorised(request: HttpRequest) -> bool:
    token = settings.TRACEGRAPH_INGEST_TOKEN
    if not token:
        return True
    header = request.META.get("HTTP_AUTHORIZATION", "")
    scheme, _, value = header.partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(value.strip(), token)


def _enqueue(body: bytes, content_type: str) -> None:
    """Async mode: leave the validated body in Redis and queue its ingest task.

    No ``transaction.on_commit`` here: nothing was written to the database
    for the task to read.
    """
    try:
        key = ingest_body_stash(body=body, content_type=content_type)
        ingest_batch.delay(key, content_type)
    except QueueFull as exc:
        raise Rejected(503, str(exc), {"Retry-After": "10"}) from None
    except (QueueUnavailable, KombuOperationalError) as exc:
        log.error("queueing a batch failed: %s", exc)
        raise Rejected(503, f"{exc}; retry later", {"Retry-After": "5"}) from None


@csrf_exempt
def receive_traces(request: HttpRequest) -> HttpResponse:
    content_type = _media_type(request)
    reply_type = PROTOBUF if content_type == PROTOBUF else JSON
    try:
        if request.method != "POST":
            raise Rejected(405, "use POST to send traces", {"Allow": "POST"})
        if not _authorised(request):
            raise Rejected(401, "missing or wrong bearer token", {"WWW-Authenticate": "Bearer"})
        if content_type not in (PROTOBUF, JSON):
            raise Rejected(
                415,
                f"unsupported Content-Type {content_type or '(none)'!r}; send {PROTOBUF} or {JSON}",
            )
        limit = settings.TRACEGRAPH_MAX_BODY_BYTES
        encoding = (request.META.get("HTTP_CONTENT_ENCODING") or "").strip().lower()
        body = _decode(_read_raw(request, limit), encoding, limit)
        result = _parse(body, content_type)
        if settings.TRACEGRAPH_INGEST_ASYNC and settings.REDIS_URL:
            if result.spans:
                _enqueue(body, content_type)
        else:
            try:
                trace_batch_ingest(spans=result.spans)
            except DatabaseError:
                log.exception("storing %d spans failed", len(result.spans))
                raise Rejected(
                    503, "the trace store is unavailable; retry later", {"Retry-After": "5"}
                ) from None
    except BodyTooLarge:
        return _error(
            413,
            f"body over the limit of {settings.TRACEGRAPH_MAX_BODY_BYTES} bytes "
            "(after decompression)",
            reply_type,
            {},
        )
    except Rejected as exc:
        return _error(exc.status, exc.message, reply_type, exc.headers)
    return _success(result, reply_type)
