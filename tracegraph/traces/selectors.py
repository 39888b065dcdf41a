"""Reads from the store, returning domain records (never ORM rows)."""

from __future__ import annotations

import contextlib
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import orjson
from django.db import connection
from django.db.models import Q
from django.db.models.fields.json import KeyTransform

from tracegraph.domain import LinkRecord, SpanRecord, TraceRecord
from tracegraph.domain.gc import gc_paused
from tracegraph.traces.mapper import (
    LINK_COLUMNS,
    SPAN_COLUMNS,
    TRACE_COLUMNS,
    link_from_row,
    span_from_row,
    trace_from_row,
)
from tracegraph.traces.models import Span, SpanLink, Trace

__all__ = [
    "LinksRead",
    "StoreSource",
    "TraceFilter",
    "graph_spans",
    "link_statistics",
    "links_into",
    "service_names",
    "span_get",
    "span_links",
    "trace_get",
    "trace_list",
    "trace_spans",
    "traces_present",
]

_CHUNK = 500


def _chunks(items: Sequence[str]) -> Iterable[Sequence[str]]:
    for i in range(0, len(items), _CHUNK):
        yield items[i : i + _CHUNK]


@dataclass(frozen=True, slots=True)
class TraceFilter:
    """What search asks for; every field optional, combined with AND.

    ``service`` and ``name`` match any span of the trace (``name``: contains,
    case-insensitive); ``since`` is a start time in ns; ``min_duration`` ns;
    ``link_type`` a link of that type held by or pointing into the trace;
    ``attribute`` a ``(key, value)`` on any span (span or resource attributes;
    the value also matches as a number or a boolean when it reads as one).
    """

    service: str = ""
    name: str = ""
    since: int | None = None
    min_duration: int | None = None
    errors: bool = False
    has_links: bool = False
    link_type: str = ""
    attribute: tuple[str, str] | None = None
    limit: int = 50


def _json_candidates(value: str) -> list[Any]:
    """The JSON values a query-string value may stand for: "200" is also 200."""
    out: list[Any] = [value]
    low = value.lower()
    if low in ("true", "false"):
        out.append(low == "true")
    try:
        out.append(int(value))
    except ValueError:
        with contextlib.suppress(ValueError):
            out.append(float(value))
    return out


def trace_list(*, filters: TraceFilter = TraceFilter()) -> list[TraceRecord]:
    """Most recent traces first, filtered; one query (filters on spans are subqueries)."""
    qs = Trace.objects.all()
    if filters.since is not None:
        qs = qs.filter(start_ns__gte=filters.since)
    if filters.min_duration is not None:
        qs = qs.filter(duration_ns__gte=filters.min_duration)
    if filters.errors:
        qs = qs.filter(error_count__gt=0)
    if filters.has_links:
        qs = qs.filter(Q(links_out__gt=0) | Q(links_in__gt=0))
    if filters.service:
        qs = qs.filter(
            Q(root_service=filters.service)
            | Q(trace_id__in=Span.objects.filter(service=filters.service).values("trace_id"))
        )
    if filters.name:
        qs = qs.filter(
            Q(root_name__icontains=filters.name)
            | Q(trace_id__in=Span.objects.filter(name__icontains=filters.name).values("trace_id"))
        )
    if filters.link_type:
        typed = SpanLink.objects.filter(link_type=filters.link_type)
        qs = qs.filter(
            Q(trace_id__in=typed.values("trace_id"))
            | Q(trace_id__in=typed.values("linked_trace_id"))
        )
    if filters.attribute:
        key, value = filters.attribute
        # KeyTransform, not ``attributes__<key>``: a key such as "contains"
        # must stay a key, never become a lookup.
        match = Q()
        for candidate in _json_candidates(value):
            match |= Q(span_attr=candidate) | Q(resource_attr=candidate)
        spans = Span.objects.alias(
            span_attr=KeyTransform(key, "attributes"),
            resource_attr=KeyTransform(key, "resource_attributes"),
        ).filter(match)
        qs = qs.filter(trace_id__in=spans.values("trace_id"))
    rows = qs.order_by("-start_ns").values_list(*TRACE_COLUMNS)[: filters.limit]
    return [trace_from_row(r) for r in rows]


def service_names(*, limit: int = 500) -> list[str]:
    """Distinct span services, sorted (one query over the service index)."""
    rows = (
        Span.objects.exclude(service="")
        .order_by("service")
        .values_list("service", flat=True)
        .distinct()[:limit]
    )
    return list(rows)


def trace_get(*, trace_id: str) -> TraceRecord | None:
    row = Trace.objects.filter(trace_id=trace_id).values_list(*TRACE_COLUMNS).first()
    return trace_from_row(row) if row else None


def _links_held_by(trace_ids: Sequence[str]) -> dict[tuple[str, str], list[LinkRecord]]:
    held: dict[tuple[str, str], list[LinkRecord]] = defaultdict(list)
    for chunk in _chunks(trace_ids):
        for row in SpanLink.objects.filter(trace_id__in=chunk).values_list(*LINK_COLUMNS):
            link = link_from_row(row)
            held[(link.trace_id, link.span_id)].append(link)
    return held


def trace_spans(*, trace_ids: Sequence[str]) -> list[SpanRecord]:
    """All spans of these traces, each with the links it holds, by start time."""
    ids = sorted(set(trace_ids))
    held = _links_held_by(ids)
    spans: list[SpanRecord] = []
    for chunk in _chunks(ids):
        for row in Span.objects.filter(trace_id__in=chunk).values_list(*SPAN_COLUMNS):
            spans.append(span_from_row(row, held.get((row[0], row[1]), ())))
    spans.sort(key=lambda s: (s.trace_id, s.start, s.span_id))
    return spans


def span_get(*, trace_id: str, span_id: str) -> SpanRecord | None:
    row = Span.objects.filter(trace_id=trace_id, span_id=span_id).values_list(*SPAN_COLUMNS).first()
    if row is None:
        return None
    links = [
        link_from_row(r)
        for r in SpanLink.objects.filter(trace_id=trace_id, span_id=span_id).values_list(
            *LINK_COLUMNS
        )
    ]
    return span_from_row(row, links)


def span_links(*, trace_id: str, span_id: str, direction: Literal["in", "out"]) -> list[LinkRecord]:
    """Links the span holds (``out``) or links other spans hold to it (``in``).

    ``in`` is one lookup on the target index.
    """
    if direction == "out":
        qs = SpanLink.objects.filter(trace_id=trace_id, span_id=span_id)
    else:
        qs = SpanLink.objects.filter(linked_trace_id=trace_id, linked_span_id=span_id)
    return [
        link_from_row(r)
        for r in qs.order_by("trace_id", "span_id", "link_index").values_list(*LINK_COLUMNS)
    ]


def links_into(*, trace_ids: Sequence[str]) -> list[LinkRecord]:
    """Every link, held anywhere, whose target is a span of these traces."""
    out: list[LinkRecord] = []
    with connection.cursor() as cursor:
        for chunk in _chunks(sorted(set(trace_ids))):
            marks = ", ".join(["%s"] * len(chunk))
            cursor.execute(_LINK_SQL.format(column="linked_trace_id", marks=marks), list(chunk))
            out.extend(link_from_row(r) for r in cursor.fetchall())
    return out


_GRAPH_SPAN_SQL = (
    "SELECT trace_id, span_id, parent_span_id, name, kind, service, start_ns, end_ns, "
    "status_code, dropped_links_count FROM traces_span WHERE trace_id IN ({marks})"
)
_LINK_SQL = f"SELECT {', '.join(LINK_COLUMNS)} FROM traces_spanlink WHERE {{column}} IN ({{marks}})"


def graph_spans(*, trace_ids: Sequence[str], read: LinksRead | None = None) -> list[SpanRecord]:
    """Spans of these traces with only what the graph needs, and their links.

    Span attributes, resource attributes and events are left out (the graph
    does not keep them, DESIGN §9): reading and decoding them was three
    quarters of a 20,000-span graph request. ``read`` holds the links an
    expansion has read already as links into the traces it has; those these
    spans hold are taken from there, not read again (in a two-way expansion,
    every link between loaded traces would be read twice: first as a link into
    the traces loaded, then as one held by the traces loaded next).
    """
    ids = sorted(set(trace_ids))
    targets = sorted(read.targets) if read else []
    held: dict[tuple[str, str], list[LinkRecord]] = defaultdict(list)
    spans: list[SpanRecord] = []
    with gc_paused(), connection.cursor() as cursor:
        for chunk in _chunks(ids):
            marks = ", ".join(["%s"] * len(chunk))
            sql, params = _LINK_SQL.format(column="trace_id", marks=marks), list(chunk)
            if targets:
                sql += f" AND linked_trace_id NOT IN ({', '.join(['%s'] * len(targets))})"
                params += targets
            cursor.execute(sql, params)
            for row in cursor.fetchall():
                held[(row[0], row[1])].append(link_from_row(row))
            if read:
                for t in chunk:
                    for link in read.by_holder.get(t, ()):
                        held[(t, link.span_id)].append(link)
            cursor.execute(_GRAPH_SPAN_SQL.format(marks=marks), list(chunk))
            for t, s, parent, name, kind, service, start, end, status, dropped in cursor.fetchall():
                links = held.get((t, s))
                # The record's first nine fields by position: keywords cost
                # twice as much, and this runs once per span of a graph.
                span = SpanRecord(t, s, name, start, end, parent, kind, service, status)
                if links:
                    span.links = _in_order(links)
                if dropped:
                    span.dropped_links_count = dropped
                spans.append(span)
    return spans


def _in_order(links: list[LinkRecord]) -> tuple[LinkRecord, ...]:
    if len(links) == 1:
        return (links[0],)
    return tuple(sorted(links, key=lambda link: link.index))


@dataclass
class LinksRead:
    """The links read as links into ``targets``: every link into them, by holder trace."""

    targets: set[str] = field(default_factory=set)
    by_holder: dict[str, list[LinkRecord]] = field(default_factory=lambda: defaultdict(list))

    def add(self, targets: Iterable[str], links: Iterable[LinkRecord]) -> None:
        self.targets.update(targets)
        for link in links:
            self.by_holder[link.trace_id].append(link)


class StoreSource:
    """The local store as a graph source: it knows incoming links.

    It keeps the links it has read as incoming, so that they are not read
    again when their holders' traces are loaded; use one per expansion.
    """

    incoming_known = True

    def __init__(self) -> None:
        self._read = LinksRead()

    def spans_of(self, trace_ids: Sequence[str]) -> list[SpanRecord]:
        return graph_spans(trace_ids=trace_ids, read=self._read)

    def links_into(self, trace_ids: Sequence[str]) -> list[LinkRecord]:
        found = links_into(trace_ids=trace_ids)
        self._read.add(trace_ids, found)
        return found


def traces_present(*, trace_ids: Sequence[str]) -> list[TraceRecord]:
    """Summaries of those of ``trace_ids`` that are stored."""
    out: list[TraceRecord] = []
    for chunk in _chunks(sorted(set(trace_ids))):
        out.extend(
            trace_from_row(r)
            for r in Trace.objects.filter(trace_id__in=chunk).values_list(*TRACE_COLUMNS)
        )
    return out


def link_statistics(*, limit: int = 100_000) -> dict[str, Any]:
    """Delay per link type and per consumer span name over the newest ``limit`` links.

    Delay = holder start - target end when both spans are stored, else the
    delay the link declares (``link.queue.delay_ms`` ...). Also counts dangling
    links (target not stored), invalid links and spans whose links were
    truncated (``dropped_links_count`` > 0).
    """
    from tracegraph.graphs.metrics import declared_delay, delay_stats

    sql = (
        "SELECT l.link_type, h.name, h.start_ns, t.end_ns, l.attributes, l.invalid, "
        "t.span_id IS NULL "
        "FROM traces_spanlink l "
        "JOIN traces_span h ON h.trace_id = l.trace_id AND h.span_id = l.span_id "
        "LEFT JOIN traces_span t ON t.trace_id = l.linked_trace_id "
        "AND t.span_id = l.linked_span_id "
        "ORDER BY l.id DESC LIMIT %s"
    )
    by_type: dict[str, list[int]] = defaultdict(list)
    by_consumer: dict[str, list[int]] = defaultdict(list)
    counts: dict[str, int] = defaultdict(int)
    dangling = invalid = total = 0
    with connection.cursor() as cursor:
        cursor.execute(sql, [limit])
        for link_type, name, start, target_end, attributes, is_invalid, missing in cursor:
            total += 1
            counts[link_type] += 1
            if is_invalid:
                invalid += 1
                continue
            if missing:
                dangling += 1
            attrs = orjson.loads(attributes) if isinstance(attributes, (str, bytes)) else attributes
            delay = start - target_end if target_end is not None else declared_delay(attrs or {})
            if delay is None:
                continue
            by_type[link_type].append(delay)
            by_consumer[name].append(delay)
    truncated = Span.objects.filter(dropped_links_count__gt=0)
    return {
        "links": total,
        "link_types": dict(sorted(counts.items())),
        "dangling": dangling,
        "invalid": invalid,
        "truncated_spans": truncated.count(),
        "dropped_links": sum(truncated.values_list("dropped_links_count", flat=True)),
        "delay_by_link_type": {k: delay_stats(v) for k, v in sorted(by_type.items())},
        "delay_by_consumer": {k: delay_stats(v) for k, v in sorted(by_consumer.items())},
    }
