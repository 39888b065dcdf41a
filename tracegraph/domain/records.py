"""Records for spans, links and traces.

Treat every record as immutable. ``SpanRecord``, ``LinkRecord`` and
``EventRecord`` are slotted but not ``frozen``: a frozen dataclass sets each
field through ``object.__setattr__``, which made constructing a span 6.5 µs
instead of 1.2 µs — a fifth of the whole OTLP parse, on the ingest hot path
(DESIGN §9). Nothing in tracegraph assigns to a record after construction.

These are what parsers return, what the store writes and reads, and what the
graph code consumes. Times are integer nanoseconds since the epoch
(:data:`Nanos`); ids are normalised lowercase hex (see :mod:`.ids`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any

__all__ = [
    "LINK_TYPES",
    "EventRecord",
    "LinkRecord",
    "Nanos",
    "ParseResult",
    "SpanKind",
    "SpanRecord",
    "StatusCode",
    "TraceRecord",
    "infer_link_type",
]

Nanos = int
Attributes = dict[str, Any]


class SpanKind(IntEnum):
    """OTLP ``Span.SpanKind`` numbers (not the Python API's enum)."""

    UNSPECIFIED = 0
    INTERNAL = 1
    SERVER = 2
    CLIENT = 3
    PRODUCER = 4
    CONSUMER = 5


class StatusCode(IntEnum):
    """OTLP ``Status.StatusCode`` numbers."""

    UNSET = 0
    OK = 1
    ERROR = 2


#: Values of the ``link.type`` link attribute that tracegraph understands.
LINK_TYPES = (
    "batch_source",
    "async_trigger",
    "retry_previous",
    "fanout_source",
    "workflow_predecessor",
    "event_source",
    "scheduled_trigger",
)

#: Link type stored when neither ``link.type`` nor the attributes tell.
UNKNOWN_LINK_TYPE = "link"


@dataclass(slots=True)
class EventRecord:
    name: str
    time: Nanos
    attributes: Attributes = field(default_factory=dict)
    dropped_attributes_count: int = 0


@dataclass(slots=True)
class LinkRecord:
    """A link held by span ``(trace_id, span_id)`` to the linked span.

    In the graph the edge runs from the linked span (the cause) to the holder
    (the effect). ``invalid`` marks a link whose target ids are all zero or
    malformed: it is kept for its attributes but never drawn.
    """

    trace_id: str
    span_id: str
    index: int
    linked_trace_id: str
    linked_span_id: str
    link_type: str = UNKNOWN_LINK_TYPE
    attributes: Attributes = field(default_factory=dict)
    trace_state: str = ""
    flags: int = 0
    dropped_attributes_count: int = 0
    invalid: bool = False


@dataclass(slots=True)
class SpanRecord:
    trace_id: str
    span_id: str
    name: str
    start: Nanos
    end: Nanos
    parent_span_id: str = ""
    kind: int = SpanKind.UNSPECIFIED
    service: str = ""
    status_code: int = StatusCode.UNSET
    status_message: str = ""
    attributes: Attributes = field(default_factory=dict)
    resource_attributes: Attributes = field(default_factory=dict)
    events: tuple[EventRecord, ...] = ()
    links: tuple[LinkRecord, ...] = ()
    scope_name: str = ""
    scope_version: str = ""
    trace_state: str = ""
    flags: int = 0
    dropped_attributes_count: int = 0
    dropped_events_count: int = 0
    dropped_links_count: int = 0

    @property
    def duration(self) -> Nanos:
        return max(0, self.end - self.start)

    @property
    def key(self) -> tuple[str, str]:
        return (self.trace_id, self.span_id)


@dataclass(frozen=True, slots=True)
class TraceRecord:
    """The summary row of one trace, as search lists it."""

    trace_id: str
    root_service: str
    root_name: str
    start: Nanos
    end: Nanos
    span_count: int
    error_count: int
    links_out: int
    links_in: int

    @property
    def duration(self) -> Nanos:
        return max(0, self.end - self.start)


@dataclass(slots=True)
class ParseResult:
    """What a parser made of one body: the spans it accepted and why it rejected others."""

    spans: list[SpanRecord] = field(default_factory=list)
    rejected: int = 0
    errors: list[str] = field(default_factory=list)

    def reject(self, message: str) -> None:
        self.rejected += 1
        if len(self.errors) < 20:  # enough to explain, bounded for huge bodies
            self.errors.append(message)

    def extend(self, other: ParseResult) -> None:
        self.spans.extend(other.spans)
        self.rejected += other.rejected
        self.errors.extend(other.errors[: max(0, 20 - len(self.errors))])


def infer_link_type(attributes: Attributes, *, holder_kind: int = SpanKind.UNSPECIFIED) -> str:
    """The link's type: its ``link.type`` attribute, else a guess from its attributes.

    >>> infer_link_type({"link.type": "batch_source"})
    'batch_source'
    >>> infer_link_type({"retry.previous_attempt": 2})
    'retry_previous'
    >>> infer_link_type({}, holder_kind=SpanKind.CONSUMER)
    'async_trigger'
    >>> infer_link_type({})
    'link'
    """
    declared = attributes.get("link.type")
    if isinstance(declared, str) and declared:
        return declared
    keys = attributes.keys()
    if any(k.startswith("retry.") for k in keys):
        return "retry_previous"
    if any(k.startswith("workflow.") for k in keys):
        return "workflow_predecessor"
    if any(k.startswith(("link.batch.", "batch.")) for k in keys):
        return "batch_source"
    if "link.queue.delay_ms" in attributes or holder_kind == SpanKind.CONSUMER:
        return "async_trigger"
    return UNKNOWN_LINK_TYPE
