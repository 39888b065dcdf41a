"""Trace and span ids: 32 / 16 lowercase hex characters, everywhere.

Every source spells ids its own way: OTLP/JSON upper- or lower-case hex,
OTLP protobuf raw bytes, Jaeger and Zipkin 64-bit trace ids as 16 hex digits.
We normalise once, here, at ingest; an id that is all zeros or not hex is
invalid and comes back as ``None``.

>>> normalize_trace_id("5B8EFFF798038103D269B633813FC60C")
'5b8efff798038103d269b633813fc60c'
>>> normalize_trace_id("0562809467078eab")
'00000000000000000562809467078eab'
>>> normalize_span_id("00000000000000000") is None
True
"""

from __future__ import annotations

__all__ = [
    "SPAN_ID_LEN",
    "TRACE_ID_LEN",
    "normalize_span_id",
    "normalize_trace_id",
    "span_id_from_bytes",
    "trace_id_from_bytes",
]

TRACE_ID_LEN = 32
SPAN_ID_LEN = 16
_HEX = frozenset("0123456789abcdef")


def _normalize(value: str | None, width: int) -> str | None:
    if not value:
        return None
    text = value.strip().lower()
    if len(text) > width or not _HEX.issuperset(text):
        return None
    # Jaeger and Zipkin send 64-bit trace ids (16 hex) and may drop leading
    # zeros; left-padding keeps one spelling per id.
    text = text.rjust(width, "0")
    if text == "0" * width:
        return None
    return text


def normalize_trace_id(value: str | None) -> str | None:
    """Return the 32-char lowercase hex trace id, or ``None`` if invalid."""
    return _normalize(value, TRACE_ID_LEN)


def normalize_span_id(value: str | None) -> str | None:
    """Return the 16-char lowercase hex span id, or ``None`` if invalid."""
    return _normalize(value, SPAN_ID_LEN)


def trace_id_from_bytes(value: bytes) -> str | None:
    """Trace id from OTLP protobuf bytes (16 bytes), ``None`` if invalid.

    >>> trace_id_from_bytes(bytes(range(16)))
    '000102030405060708090a0b0c0d0e0f'
    """
    if len(value) != TRACE_ID_LEN // 2:
        return None
    return normalize_trace_id(value.hex())


def span_id_from_bytes(value: bytes) -> str | None:
    """Span id from OTLP protobuf bytes (8 bytes), ``None`` if invalid."""
    if len(value) != SPAN_ID_LEN // 2:
        return None
    return normalize_span_id(value.hex())
