"""JSON shapes of the read API, built from domain records."""

from __future__ import annotations

from typing import Any, TypedDict

from tracegraph.domain import LinkRecord, SpanRecord, TraceRecord

__all__ = ["LinkDict", "SpanDict", "TraceDict", "link_dict", "span_dict", "trace_dict"]


class TraceDict(TypedDict):
    trace_id: str
    root_service: str
    root_name: str
    start: int
    duration: int
    span_count: int
    error_count: int
    links_out: int
    links_in: int


class LinkDict(TypedDict):
    trace_id: str
    span_id: str
    index: int
    linked_trace_id: str
    linked_span_id: str
    link_type: str
    attributes: dict[str, Any]
    trace_state: str
    invalid: bool


class SpanDict(TypedDict):
    trace_id: str
    span_id: str
    parent_span_id: str
    name: str
    kind: int
    service: str
    start: int
    end: int
    duration: int
    status: dict[str, Any]
    attributes: dict[str, Any]
    resource: dict[str, Any]
    events: list[dict[str, Any]]
    scope: dict[str, str]
    dropped: dict[str, int]
    links: list[LinkDict]
    links_in: list[LinkDict]


def trace_dict(t: TraceRecord) -> TraceDict:
    return {
        "trace_id": t.trace_id,
        "root_service": t.root_service,
        "root_name": t.root_name,
        "start": t.start,
        "duration": t.duration,
        "span_count": t.span_count,
        "error_count": t.error_count,
        "links_out": t.links_out,
        "links_in": t.links_in,
    }


def link_dict(link: LinkRecord) -> LinkDict:
    return {
        "trace_id": link.trace_id,
        "span_id": link.span_id,
        "index": link.index,
        "linked_trace_id": link.linked_trace_id,
        "linked_span_id": link.linked_span_id,
        "link_type": link.link_type,
        "attributes": link.attributes,
        "trace_state": link.trace_state,
        "invalid": link.invalid,
    }


def span_dict(s: SpanRecord, links_in: list[LinkRecord] | None = None) -> SpanDict:
    return {
        "trace_id": s.trace_id,
        "span_id": s.span_id,
        "parent_span_id": s.parent_span_id,
        "name": s.name,
        "kind": s.kind,
        "service": s.service,
        "start": s.start,
        "end": s.end,
        "duration": s.duration,
        "status": {"code": s.status_code, "message": s.status_message},
        "attributes": s.attributes,
        "resource": s.resource_attributes,
        "events": [{"name": e.name, "time": e.time, "attributes": e.attributes} for e in s.events],
        "scope": {"name": s.scope_name, "version": s.scope_version},
        "dropped": {
            "attributes": s.dropped_attributes_count,
            "events": s.dropped_events_count,
            "links": s.dropped_links_count,
        },
        "links": [link_dict(link) for link in s.links],
        "links_in": [link_dict(link) for link in links_in or ()],
    }
