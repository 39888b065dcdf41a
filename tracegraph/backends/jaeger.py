"""The ``jaeger`` backend: Jaeger's query service (``TRACEGRAPH_JAEGER_URL``).

A trace is read from api_v3 (``GET /api/v3/traces/<id>``: OTLP/JSON in
``{"result": ...}``, links as OTLP sends them) when the server has it, else
from the v1 UI API (``GET /api/traces/<id>``: ``{"data": [trace]}``, links as
``references``). Search uses the v1 API, which needs a service; without one
the services are listed and searched one by one, at most
:data:`MAX_SEARCH_SERVICES` of them.

Jaeger has no index on link targets, so it cannot answer "who links to this
trace": ``incoming_known`` is False and :meth:`links_into` is empty.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from tracegraph.backends._http import HttpClient, client_from_settings
from tracegraph.backends._remote import fetch_traces
from tracegraph.backends.base import (
    BackendError,
    BackendUnavailable,
    TraceNotFound,
    register_backend,
    summarise_traces,
    trace_id_or_not_found,
)
from tracegraph.domain.records import LinkRecord, ParseResult, SpanRecord, TraceRecord
from tracegraph.ingest import ParseError, parse_jaeger_json, parse_otlp_json

__all__ = ["MAX_SEARCH_SERVICES", "JaegerBackend"]

#: Services searched when a search names none (Jaeger's v1 search needs one).
MAX_SEARCH_SERVICES = 10


def _parse(
    parser: Callable[[Any], ParseResult],
    doc: Any,
    what: str,
    client: HttpClient,
    trace_id: str = "",
) -> list[SpanRecord]:
    """The spans of ``doc`` (only those of ``trace_id`` when given)."""
    try:
        spans = parser(doc).spans
    except ParseError as exc:
        raise BackendError(f"Jaeger at {client.base_url} answered {what} with {exc}") from exc
    return [s for s in spans if s.trace_id == trace_id] if trace_id else spans


@register_backend("jaeger")
class JaegerBackend:
    """Traces read from a Jaeger query service."""

    name = "jaeger"
    incoming_known = False

    def __init__(self, client: HttpClient) -> None:
        self.client = client
        # True once api_v3 has answered: from then on its 404 means "no such
        # trace" and v1 is not asked. Absence is never remembered (a 404 there
        # may mean either), so an upgraded Jaeger is picked up.
        self.api_v3 = False

    @classmethod
    def from_settings(cls) -> JaegerBackend:
        return cls(client_from_settings("TRACEGRAPH_JAEGER_URL", label="Jaeger", backend="jaeger"))

    def get_trace(self, trace_id: str) -> list[SpanRecord]:
        normal = trace_id_or_not_found(trace_id, self.name)
        spans = self._get_v3(normal)
        if spans is not None:
            return spans
        path = f"/api/traces/{normal}"
        doc = self.client.get_json(path)
        if not doc or (isinstance(doc, dict) and not doc.get("data") and "spans" not in doc):
            raise TraceNotFound(normal, self.name)
        spans = _parse(parse_jaeger_json, doc, path, self.client, normal)
        if not spans:
            raise TraceNotFound(normal, self.name)
        return spans

    def _get_v3(self, trace_id: str) -> list[SpanRecord] | None:
        """The trace from api_v3, or None to ask v1 instead."""
        path = f"/api/v3/traces/{trace_id}"
        try:
            doc = self.client.get_json(path)
        except BackendUnavailable:
            raise
        except BackendError:
            return None  # e.g. a 400 from a Jaeger whose api_v3 differs: v1 decides
        if doc is None:
            if self.api_v3:
                raise TraceNotFound(trace_id, self.name)
            return None
        self.api_v3 = True
        spans = _parse(parse_otlp_json, doc, path, self.client, trace_id)
        if not spans:
            raise TraceNotFound(trace_id, self.name)
        return spans

    def spans_of(self, trace_ids: Sequence[str]) -> list[SpanRecord]:
        return fetch_traces(self.get_trace, trace_ids)

    def links_into(self, trace_ids: Sequence[str]) -> list[LinkRecord]:
        return []  # Jaeger cannot look links up by target (incoming_known is False)

    def services(self) -> list[str]:
        """The services Jaeger knows (``GET /api/services``), sorted."""
        doc = self.client.get_json("/api/services")
        names = doc.get("data") if isinstance(doc, dict) else None
        return sorted(str(n) for n in names or () if n)

    def search(self, *, service: str = "", name: str = "", limit: int = 50) -> list[TraceRecord]:
        services = [service] if service else self.services()[:MAX_SEARCH_SERVICES]
        spans: dict[tuple[str, str], SpanRecord] = {}
        for svc in services:
            params: dict[str, str | int] = {"service": svc, "limit": limit}
            if name:
                params["operation"] = name
            doc = self.client.get_json("/api/traces", params)
            if not isinstance(doc, dict) or not doc.get("data"):
                continue
            for span in _parse(parse_jaeger_json, doc, "/api/traces", self.client):
                # A trace crossing two searched services comes back twice.
                spans.setdefault(span.key, span)
        return summarise_traces(spans.values())[:limit]
