"""The ``local`` backend: the app's own database, fed by ``/v1/traces`` and imports.

A thin wrapper over :mod:`tracegraph.traces.selectors`; the store indexes
links on their target, so incoming links are always known.
"""

from __future__ import annotations

from collections.abc import Sequence

from tracegraph.backends.base import TraceNotFound, register_backend, trace_id_or_not_found
from tracegraph.domain.records import LinkRecord, SpanRecord, TraceRecord
from tracegraph.traces import selectors

__all__ = ["LocalBackend"]


@register_backend("local")
class LocalBackend:
    """Traces stored in tracegraph's own database."""

    name = "local"
    incoming_known = True

    @classmethod
    def from_settings(cls) -> LocalBackend:
        return cls()

    def spans_of(self, trace_ids: Sequence[str]) -> list[SpanRecord]:
        # The graph keeps no span attributes or events: read only its fields.
        return selectors.graph_spans(trace_ids=trace_ids)

    def links_into(self, trace_ids: Sequence[str]) -> list[LinkRecord]:
        return selectors.links_into(trace_ids=trace_ids)

    def search(self, *, service: str = "", name: str = "", limit: int = 50) -> list[TraceRecord]:
        filters = selectors.TraceFilter(service=service, name=name, limit=limit)
        return selectors.trace_list(filters=filters)

    def get_trace(self, trace_id: str) -> list[SpanRecord]:
        normal = trace_id_or_not_found(trace_id, self.name)
        spans = selectors.trace_spans(trace_ids=[normal])
        if not spans:
            raise TraceNotFound(normal, self.name)
        return spans
