"""Parsers from trace wire formats to domain records (no Django here).

Importing this package registers the built-in formats:

=============  ====================================================
``otlp-proto``  OTLP/protobuf ``ExportTraceServiceRequest``
``otlp-json``   OTLP/JSON (also Tempo ``batches``, Jaeger api_v3 ``result``)
``otlp-jsonl``  OTLP/JSON Lines (the Collector's file exporter)
``jaeger-json`` Jaeger query/UI JSON
``zipkin-v2``   Zipkin v2 span list
=============  ====================================================

Every parser returns a :class:`~tracegraph.domain.records.ParseResult`:
the accepted spans, plus the count and reasons of the rejected ones. A body
that is not a trace format at all raises :class:`ParseError`.
"""

from tracegraph.ingest.errors import BodyTooLarge, ParseError
from tracegraph.ingest.jaeger_json import parse_jaeger_json
from tracegraph.ingest.otlp_json import parse_otlp_json, parse_otlp_json_lines
from tracegraph.ingest.otlp_proto import parse_otlp_protobuf
from tracegraph.ingest.registry import (
    DEFAULT_MAX_SIZE,
    TraceFormat,
    detect_and_parse,
    detect_format,
    formats,
    get_format,
    gunzip,
    parse_as,
    parse_file,
    register_format,
)
from tracegraph.ingest.zipkin_json import parse_zipkin_v2

__all__ = [
    "DEFAULT_MAX_SIZE",
    "BodyTooLarge",
    "ParseError",
    "TraceFormat",
    "detect_and_parse",
    "detect_format",
    "formats",
    "get_format",
    "gunzip",
    "parse_as",
    "parse_file",
    "parse_jaeger_json",
    "parse_otlp_json",
    "parse_otlp_json_lines",
    "parse_otlp_protobuf",
    "parse_zipkin_v2",
    "register_format",
]
