"""Writes to the store. One batch of spans is one transaction.

Spans and links are upserted with raw ``INSERT ... ON CONFLICT DO UPDATE``
through ``executemany`` (SQLite and PostgreSQL both speak it): the ORM's
per-object overhead would cost more than half of the ingest budget
(DESIGN §9). Trace summary rows are then recomputed from the stored spans,
so re-sent spans and traces that arrive in pieces stay exact.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import connection, transaction
from django.db.backends.utils import CursorWrapper

from tracegraph.domain import SpanRecord
from tracegraph.traces.mapper import LINK_COLUMNS, SPAN_COLUMNS, link_rows, span_row

__all__ = ["IngestSummary", "trace_batch_ingest", "trace_summaries_refresh", "traces_purge"]

# SQLite allows 32,766 bound variables; PostgreSQL 65,535. Stay well below.
_IN_CHUNK = 500


@dataclass(frozen=True, slots=True)
class IngestSummary:
    spans: int
    traces: int
    links: int

    def __add__(self, other: IngestSummary) -> IngestSummary:
        return IngestSummary(
            self.spans + other.spans, self.traces + other.traces, self.links + other.links
        )


_JSON_COLUMNS = frozenset({"attributes", "resource_attributes", "events"})
_INT_COLUMNS = frozenset(
    {
        "kind",
        "start_ns",
        "end_ns",
        "status_code",
        "flags",
        "link_index",
        "ingested_at",
        "dropped_attributes_count",
        "dropped_events_count",
        "dropped_links_count",
    }
)


def _pg_type(column: str) -> str:
    if column in _INT_COLUMNS:
        return "bigint"
    return "boolean" if column == "invalid" else "text"


def _upsert(
    cursor: CursorWrapper,
    table: str,
    columns: Sequence[str],
    key: Sequence[str],
    rows: Sequence[tuple[Any, ...]],
) -> None:
    """``INSERT ... ON CONFLICT (key) DO UPDATE`` of ``rows``; the last row of a key wins."""
    width = len(key)
    rows = list({row[:width]: row for row in rows}.values())  # one row per key
    updates = ", ".join(f"{c} = excluded.{c}" for c in columns if c not in key)
    conflict = f"ON CONFLICT ({', '.join(key)}) DO UPDATE SET {updates}"
    names = ", ".join(columns)
    if connection.vendor == "postgresql":
        # One statement per batch: the rows travel as one array per column.
        # executemany would cost a round trip per row.
        selected = ", ".join(f"{c}::jsonb" if c in _JSON_COLUMNS else c for c in columns)
        arrays = ", ".join(f"%s::{_pg_type(c)}[]" for c in columns)
        cursor.execute(
            f"INSERT INTO {table} ({names}) SELECT {selected} "
            f"FROM unnest({arrays}) AS t({names}) {conflict}",
            [list(col) for col in zip(*rows, strict=True)],
        )
    else:
        marks = ", ".join(["%s"] * len(columns))
        cursor.executemany(f"INSERT INTO {table} ({names}) VALUES ({marks}) {conflict}", rows)


def _delete_extra_links(cursor: CursorWrapper, holders: dict[tuple[str, str], int]) -> None:
    """Delete links at or past ``count`` for each ``(trace_id, span_id) -> count``."""
    if connection.vendor == "postgresql":
        traces = [t for t, _ in holders]
        spans = [s for _, s in holders]
        counts = list(holders.values())
        cursor.execute(
            "DELETE FROM traces_spanlink l USING unnest(%s::text[], %s::text[], %s::int[]) "
            "AS h(trace_id, span_id, n) WHERE l.trace_id = h.trace_id "
            "AND l.span_id = h.span_id AND l.link_index >= h.n",
            [traces, spans, counts],
        )
    else:
        cursor.executemany(
            "DELETE FROM traces_spanlink WHERE trace_id = %s AND span_id = %s AND link_index >= %s",
            [(t, s, n) for (t, s), n in holders.items()],
        )


def _chunks(items: Sequence[str], size: int = _IN_CHUNK) -> Iterable[Sequence[str]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def trace_batch_ingest(*, spans: Sequence[SpanRecord]) -> IngestSummary:
    """Store a batch of spans and their links; re-sent spans replace the old rows.

    Returns how many spans, distinct traces and links were written.
    """
    if not spans:
        return IngestSummary(0, 0, 0)
    now = time.time_ns()
    span_cols = (*SPAN_COLUMNS, "ingested_at")
    rows = [(*span_row(s), now) for s in spans]
    links = link_rows(spans)
    trace_ids = sorted({s.trace_id for s in spans})
    linked_ids = sorted({row[3] for row in links if not row[10]} - set(trace_ids))

    with transaction.atomic(), connection.cursor() as cursor:
        _upsert(cursor, "traces_span", span_cols, ("trace_id", "span_id"), rows)
        # A re-sent span may hold fewer links than before: drop the extras.
        holders = {(row[0], row[1]): 0 for row in rows}
        for row in links:
            key = (row[0], row[1])
            holders[key] = max(holders[key], row[2] + 1)
        _delete_extra_links(cursor, holders)
        if links:
            _upsert(
                cursor,
                "traces_spanlink",
                LINK_COLUMNS,
                ("trace_id", "span_id", "link_index"),
                links,
            )
        _refresh(cursor, trace_ids, linked_ids, now)
    return IngestSummary(spans=len(rows), traces=len(trace_ids), links=len(links))


def trace_summaries_refresh(*, trace_ids: Sequence[str]) -> None:
    """Recompute the summary rows of these traces from their stored spans."""
    with transaction.atomic(), connection.cursor() as cursor:
        _refresh(cursor, sorted(set(trace_ids)), [], time.time_ns())


def _refresh(cursor, trace_ids: Sequence[str], linked_ids: Sequence[str], now: int) -> None:  # type: ignore[no-untyped-def]
    # The root is the earliest span without a parent; failing that (the root
    # has not arrived yet), the earliest span.
    root = (
        "(SELECT r.{col} FROM traces_span r WHERE r.trace_id = a.trace_id "
        "ORDER BY CASE WHEN r.parent_span_id = '' THEN 0 ELSE 1 END, r.start_ns LIMIT 1)"
    )
    for chunk in _chunks(trace_ids):
        marks = ", ".join(["%s"] * len(chunk))
        cursor.execute(
            "INSERT INTO traces_trace (trace_id, root_service, root_name, start_ns, end_ns, "
            "duration_ns, span_count, error_count, links_out, links_in, updated_at) "
            f"SELECT a.trace_id, {root.format(col='service')}, {root.format(col='name')}, "
            "a.start_ns, a.end_ns, a.end_ns - a.start_ns, a.n, a.errors, "
            "(SELECT COUNT(*) FROM traces_spanlink l WHERE l.trace_id = a.trace_id "
            " AND NOT l.invalid), "
            "(SELECT COUNT(*) FROM traces_spanlink l WHERE l.linked_trace_id = a.trace_id), %s "
            "FROM (SELECT trace_id, MIN(start_ns) AS start_ns, MAX(end_ns) AS end_ns, "
            " COUNT(*) AS n, SUM(CASE WHEN status_code = 2 THEN 1 ELSE 0 END) AS errors "
            f" FROM traces_span WHERE trace_id IN ({marks}) GROUP BY trace_id) a "
            "WHERE true "
            "ON CONFLICT (trace_id) DO UPDATE SET root_service = excluded.root_service, "
            "root_name = excluded.root_name, start_ns = excluded.start_ns, "
            "end_ns = excluded.end_ns, duration_ns = excluded.duration_ns, "
            "span_count = excluded.span_count, error_count = excluded.error_count, "
            "links_out = excluded.links_out, links_in = excluded.links_in, "
            "updated_at = excluded.updated_at",
            [now, *chunk],
        )
    # Traces that this batch links to gain incoming links, if they are stored.
    for chunk in _chunks(linked_ids):
        marks = ", ".join(["%s"] * len(chunk))
        cursor.execute(
            "UPDATE traces_trace SET links_in = (SELECT COUNT(*) FROM traces_spanlink l "
            "WHERE l.linked_trace_id = traces_trace.trace_id), updated_at = %s "
            f"WHERE trace_id IN ({marks})",
            [now, *chunk],
        )


def traces_purge(*, older_than_ns: int) -> int:
    """Delete traces whose last span ended before ``older_than_ns``; returns how many."""
    from tracegraph.traces.models import Span, SpanLink, Trace

    with transaction.atomic(), connection.cursor() as cursor:
        ids = list(
            Trace.objects.filter(end_ns__lt=older_than_ns).values_list("trace_id", flat=True)
        )
        linked: set[str] = set()
        for chunk in _chunks(ids):
            held = SpanLink.objects.filter(trace_id__in=chunk)
            linked.update(held.values_list("linked_trace_id", flat=True))
            held.delete()
            Span.objects.filter(trace_id__in=chunk).delete()
            Trace.objects.filter(trace_id__in=chunk).delete()
        # Traces the purged ones linked to keep their summary's links_in exact.
        _refresh(cursor, [], sorted(linked - set(ids)), time.time_ns())
    return len(ids)
