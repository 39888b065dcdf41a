"""Builders for span topologies in pure graph and pattern tests.

Ids are small numbers (``tid(3)``, ``sid(7)``), times are milliseconds after
:data:`T0`, so a test reads like its ASCII picture::

    producer = span(1, 1, "order.publish", kind=PRODUCER, start=0, dur=5)
    consumer = span(2, 1, "order.process", kind=CONSUMER, start=20,
                    links=[link(producer)])
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from tracegraph.domain.records import LinkRecord, SpanKind, SpanRecord, infer_link_type

__all__ = [
    "CLIENT",
    "CONSUMER",
    "ERROR",
    "INTERNAL",
    "MS",
    "OK",
    "PRODUCER",
    "SERVER",
    "T0",
    "ZERO_SPAN",
    "ZERO_TRACE",
    "LinkSpec",
    "key",
    "link",
    "sid",
    "span",
    "tid",
]

T0 = 1_700_000_000_000_000_000  # ns
MS = 1_000_000
INTERNAL, SERVER, CLIENT = SpanKind.INTERNAL, SpanKind.SERVER, SpanKind.CLIENT
PRODUCER, CONSUMER = SpanKind.PRODUCER, SpanKind.CONSUMER
OK, ERROR = 1, 2
ZERO_TRACE, ZERO_SPAN = "0" * 32, "0" * 16


def tid(n: int) -> str:
    return f"{n:032x}"


def sid(n: int) -> str:
    return f"{n:016x}"


def key(trace: int, span_id: int) -> tuple[str, str]:
    """The graph node key of span ``span_id`` in trace ``trace``."""
    return (tid(trace), sid(span_id))


@dataclass(frozen=True)
class LinkSpec:
    target: tuple[str, str]
    attributes: dict[str, Any] = field(default_factory=dict)
    invalid: bool = False


def link(
    target: SpanRecord | tuple[str, str],
    attributes: dict[str, Any] | None = None,
    *,
    type: str | None = None,
    invalid: bool = False,
) -> LinkSpec:
    """A link to ``target`` (a span or a node key); ``type`` sets ``link.type``."""
    attrs = dict(attributes or {})
    if type is not None:
        attrs["link.type"] = type
    tgt = target.key if isinstance(target, SpanRecord) else target
    return LinkSpec(tgt, attrs, invalid)


def span(
    trace: int,
    span_id: int,
    name: str = "op",
    *,
    parent: int | None = None,
    start: float = 0,
    dur: float = 10,
    kind: int = INTERNAL,
    service: str = "svc",
    status: int = 0,
    links: Sequence[LinkSpec] = (),
    dropped_links: int = 0,
    attributes: dict[str, Any] | None = None,
) -> SpanRecord:
    """A span; ``start``/``dur`` in ms after :data:`T0`.

    Link types are read from the link attributes only (``link.type`` or the
    inferred one), never from the holder's kind, so an attribute-less link is
    ``"link"`` and the detectors must recognise it by structure.
    """
    t, s = tid(trace), sid(span_id)
    made = tuple(
        LinkRecord(
            trace_id=t,
            span_id=s,
            index=i,
            linked_trace_id=spec.target[0],
            linked_span_id=spec.target[1],
            link_type=infer_link_type(spec.attributes),
            attributes=spec.attributes,
            invalid=spec.invalid,
        )
        for i, spec in enumerate(links)
    )
    begin = T0 + int(start * MS)
    return SpanRecord(
        trace_id=t,
        span_id=s,
        name=name,
        start=begin,
        end=begin + int(dur * MS),
        parent_span_id=sid(parent) if parent is not None else "",
        kind=kind,
        service=service,
        status_code=status,
        attributes=dict(attributes or {}),
        links=made,
        dropped_links_count=dropped_links,
    )
