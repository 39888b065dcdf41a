"""The read API (DESIGN §5): thin views that validate, call a selector, respond."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from django.http import HttpRequest

from tracegraph.backends import get_backend, summarise_traces
from tracegraph.domain import LinkRecord
from tracegraph.traces import selectors
from tracegraph.web.errors import ApiError, api
from tracegraph.web.params import choice_param, int_param, span_id_param, trace_id_param
from tracegraph.web.payloads import link_dict, span_dict, trace_dict

__all__ = ["span_links", "trace_detail", "trace_list"]


@api
def trace_list(request: HttpRequest) -> dict[str, Any]:
    backend = get_backend()
    traces = backend.search(
        service=request.GET.get("service", "").strip(),
        name=request.GET.get("name", "").strip(),
        limit=int_param(request.GET, "limit", default=50, low=1, high=1000),
    )
    return {
        "backend": backend.name,
        "incoming_known": backend.incoming_known,
        "traces": [trace_dict(t) for t in traces],
    }


@api
def trace_detail(request: HttpRequest, trace_id: str) -> dict[str, Any]:
    trace_id = trace_id_param(trace_id)
    backend = get_backend()
    spans = backend.get_trace(trace_id)  # TraceNotFound -> 404
    incoming: dict[str, list[LinkRecord]] = defaultdict(list)
    for link in backend.links_into([trace_id]):
        incoming[link.linked_span_id].append(link)
    summary = selectors.trace_get(trace_id=trace_id) if backend.name == "local" else None
    if summary is None:
        (summary,) = summarise_traces(
            spans, links_in={trace_id: sum(len(v) for v in incoming.values())}
        )
    return {
        "backend": backend.name,
        # Jaeger cannot list incoming links: an empty list would be a lie.
        "incoming_known": backend.incoming_known,
        "trace": trace_dict(summary),
        "spans": [span_dict(s, incoming.get(s.span_id)) for s in spans],
    }


@api
def span_links(request: HttpRequest, trace_id: str, span_id: str) -> dict[str, Any]:
    trace_id = trace_id_param(trace_id)
    span_id = span_id_param(span_id)
    direction = choice_param(request.GET, "direction", choices=("in", "out"), default="out")
    links = selectors.span_links(trace_id=trace_id, span_id=span_id, direction=direction)  # type: ignore[arg-type]
    # Links into a span that never arrived are answered: that is a dangling link.
    if not links and selectors.span_get(trace_id=trace_id, span_id=span_id) is None:
        raise ApiError(404, f"span {trace_id}/{span_id} is not stored and nothing links to it")
    return {
        "trace_id": trace_id,
        "span_id": span_id,
        "direction": direction,
        "links": [link_dict(link) for link in links],
    }
