"""The one place where domain records meet database rows, both ways."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import orjson

from tracegraph.domain import EventRecord, LinkRecord, SpanRecord, TraceRecord

__all__ = [
    "LINK_COLUMNS",
    "SPAN_COLUMNS",
    "TRACE_COLUMNS",
    "link_from_row",
    "link_rows",
    "span_from_row",
    "span_row",
    "trace_from_row",
]

SPAN_COLUMNS = (
    "trace_id",
    "span_id",
    "parent_span_id",
    "name",
    "kind",
    "service",
    "start_ns",
    "end_ns",
    "status_code",
    "status_message",
    "attributes",
    "resource_attributes",
    "events",
    "scope_name",
    "scope_version",
    "trace_state",
    "flags",
    "dropped_attributes_count",
    "dropped_events_count",
    "dropped_links_count",
)
SPAN_JSON_COLUMNS = frozenset({"attributes", "resource_attributes", "events"})

LINK_COLUMNS = (
    "trace_id",
    "span_id",
    "link_index",
    "linked_trace_id",
    "linked_span_id",
    "link_type",
    "attributes",
    "trace_state",
    "flags",
    "dropped_attributes_count",
    "invalid",
)
LINK_JSON_COLUMNS = frozenset({"attributes"})

TRACE_COLUMNS = (
    "trace_id",
    "root_service",
    "root_name",
    "start_ns",
    "end_ns",
    "span_count",
    "error_count",
    "links_out",
    "links_in",
)


def _json(value: Any) -> str:
    # OPT_NON_STR_KEYS: attribute maps from odd sources may carry int keys.
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


def _event_dict(event: EventRecord) -> dict[str, Any]:
    data: dict[str, Any] = {"name": event.name, "time": event.time}
    if event.attributes:
        data["attributes"] = event.attributes
    if event.dropped_attributes_count:
        data["dropped_attributes_count"] = event.dropped_attributes_count
    return data


def span_row(s: SpanRecord) -> tuple[Any, ...]:
    """A row in :data:`SPAN_COLUMNS` order, JSON columns as text."""
    return (
        s.trace_id,
        s.span_id,
        s.parent_span_id,
        s.name,
        int(s.kind),
        s.service,
        s.start,
        s.end,
        int(s.status_code),
        s.status_message,
        _json(s.attributes),
        _json(s.resource_attributes),
        _json([_event_dict(e) for e in s.events]) if s.events else "[]",
        s.scope_name,
        s.scope_version,
        s.trace_state,
        s.flags,
        s.dropped_attributes_count,
        s.dropped_events_count,
        s.dropped_links_count,
    )


def link_rows(spans: Iterable[SpanRecord]) -> list[tuple[Any, ...]]:
    """Rows in :data:`LINK_COLUMNS` order for every link the spans hold."""
    return [
        (
            link.trace_id,
            link.span_id,
            link.index,
            link.linked_trace_id,
            link.linked_span_id,
            link.link_type,
            _json(link.attributes),
            link.trace_state,
            link.flags,
            link.dropped_attributes_count,
            link.invalid,
        )
        for s in spans
        for link in s.links
    ]


def _loads(value: Any) -> Any:
    # The ORM decodes JSONField values; raw cursors give text on SQLite.
    if isinstance(value, (str, bytes)):
        return orjson.loads(value)
    return value


def link_from_row(row: Sequence[Any]) -> LinkRecord:
    """A :class:`LinkRecord` from a row in :data:`LINK_COLUMNS` order."""
    t, s, index, linked_t, linked_s, link_type, attributes, state, flags, dropped, invalid = row
    # By position, in LinkRecord's field order (one per link of a graph;
    # keywords cost twice as much).
    return LinkRecord(
        t, s, index, linked_t, linked_s, link_type, _loads(attributes) or {}, state, flags,
        dropped, bool(invalid),
    )  # fmt: skip


def span_from_row(row: Sequence[Any], links: Sequence[LinkRecord] = ()) -> SpanRecord:
    """A :class:`SpanRecord` from a row in :data:`SPAN_COLUMNS` order."""
    events = tuple(
        EventRecord(
            name=e.get("name", ""),
            time=e.get("time", 0),
            attributes=e.get("attributes", {}),
            dropped_attributes_count=e.get("dropped_attributes_count", 0),
        )
        for e in (_loads(row[12]) or [])
    )
    return SpanRecord(
        trace_id=row[0],
        span_id=row[1],
        parent_span_id=row[2],
        name=row[3],
        kind=row[4],
        service=row[5],
        start=row[6],
        end=row[7],
        status_code=row[8],
        status_message=row[9],
        attributes=_loads(row[10]) or {},
        resource_attributes=_loads(row[11]) or {},
        events=events,
        scope_name=row[13],
        scope_version=row[14],
        trace_state=row[15],
        flags=row[16],
        dropped_attributes_count=row[17],
        dropped_events_count=row[18],
        dropped_links_count=row[19],
        links=tuple(sorted(links, key=lambda link: link.index)),
    )


def trace_from_row(row: Sequence[Any]) -> TraceRecord:
    """A :class:`TraceRecord` from a row in :data:`TRACE_COLUMNS` order."""
    return TraceRecord(
        trace_id=row[0],
        root_service=row[1],
        root_name=row[2],
        start=row[3],
        end=row[4],
        span_count=row[5],
        error_count=row[6],
        links_out=row[7],
        links_in=row[8],
    )
