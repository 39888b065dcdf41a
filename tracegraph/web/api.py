"""The read API (DESIGN §5): thin views that validate, call a selector, respond."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from django.http import HttpRequest

from tracegraph.domain import LinkRecord
from tracegraph.traces import selectors
from tracegraph.web.errors import ApiError, api
from tracegraph.web.params import choice_param, int_param, span_id_param, trace_id_param
from tracegraph.web.payloads import link_dict, span_dict, trace_dict

__all__ = ["span_links", "trace_detail", "trace_list"]


@api
def trace_list(request: HttpRequest) -> dict[str, Any]:
    filters = selectors.TraceFilter(
        service=request.GET.get("service", "").strip(),
        name=request.GET.get("name", "").strip(),
        limit=int_param(request.GET, "limit", default=50, low=1, high=1000),
    )
    return {"traces": [trace_dict(t) for t in selectors.trace_list(filters=filters)]}


@api
def trace_detail(request: HttpRequest, trace_id: str) -> dict[str, Any]:
    trace_id = trace_id_param(trace_id)
    summary = selectors.trace_get(trace_id=trace_id)
    if summary is None:
        raise ApiError(404, f"trace {trace_id} is not stored")
    spans = selectors.trace_spans(trace_ids=[trace_id])
    incoming: dict[str, list[LinkRecord]] = defaultdict(list)
    for link in selectors.links_into(trace_ids=[trace_id]):
        incoming[link.linked_span_id].append(link)
    return {
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
