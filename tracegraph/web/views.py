"""HTML pages: thin views over the selectors."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from tracegraph.domain import LinkRecord, SpanKind, StatusCode, normalize_trace_id
from tracegraph.traces import selectors
from tracegraph.traces.imports import ImportSummary, trace_body_import
from tracegraph.web.forms import UploadForm

__all__ = ["search", "trace_page", "upload"]


def _when(ns: int) -> str:
    return datetime.fromtimestamp(ns / 1e9, tz=UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]


def _ms(ns: int) -> str:
    ms = ns / 1e6
    if ms >= 1000:
        return f"{ms / 1000:.2f} s"
    return f"{ms:.2f} ms" if ms < 10 else f"{ms:.0f} ms"


def search(request: HttpRequest) -> HttpResponse:
    trace_id = request.GET.get("trace_id", "").strip()
    if trace_id:
        normal = normalize_trace_id(trace_id)
        if normal:
            return redirect("trace", trace_id=normal)
    filters = selectors.TraceFilter(
        service=request.GET.get("service", "").strip(), name=request.GET.get("name", "").strip()
    )
    rows = [
        {"t": t, "when": _when(t.start), "duration": _ms(t.duration)}
        for t in selectors.trace_list(filters=filters)
    ]
    return render(
        request,
        "search.html",
        {"rows": rows, "filters": filters, "bad_trace_id": trace_id if trace_id else ""},
    )


def trace_page(request: HttpRequest, trace_id: str) -> HttpResponse:
    normal = normalize_trace_id(trace_id) if len(trace_id) in (16, 32) else None
    summary = selectors.trace_get(trace_id=normal) if normal else None
    if summary is None or normal is None:
        raise Http404(f"No trace {trace_id[:64]} is stored.")
    spans = selectors.trace_spans(trace_ids=[normal])
    incoming: dict[str, list[LinkRecord]] = defaultdict(list)
    for link in selectors.links_into(trace_ids=[normal]):
        incoming[link.linked_span_id].append(link)
    known = {t.trace_id for t in selectors.traces_present(trace_ids=_other_traces(spans, incoming))}
    depth = _depths(spans)
    span_total = max(summary.duration, 1)
    rows = [
        {
            "s": s,
            "depth": depth[s.span_id],
            "indent": min(depth[s.span_id], 12) * 14,
            "kind": SpanKind(s.kind).name.lower()
            if s.kind in SpanKind._value2member_map_
            else s.kind,
            "error": s.status_code == StatusCode.ERROR,
            "offset": 100 * (s.start - summary.start) / span_total,
            "width": max(0.3, 100 * s.duration / span_total),
            "duration": _ms(s.duration),
            "links_out": [
                (link, link.linked_trace_id in known or link.linked_trace_id == normal)
                for link in s.links
            ],
            "links_in": [(link, True) for link in incoming.get(s.span_id, ())],
        }
        for s in _waterfall(spans)
    ]
    return render(
        request,
        "trace.html",
        {
            "summary": summary,
            "rows": rows,
            "when": _when(summary.start),
            "duration": _ms(summary.duration),
        },
    )


def _other_traces(spans, incoming) -> list[str]:  # type: ignore[no-untyped-def]
    ids = {link.linked_trace_id for s in spans for link in s.links if not link.invalid}
    return sorted(ids)


def _depths(spans) -> dict[str, int]:  # type: ignore[no-untyped-def]
    parent = {s.span_id: s.parent_span_id for s in spans}
    depth: dict[str, int] = {}
    for span_id in parent:
        seen = []
        node = span_id
        # Walk up until a known depth, the root, an orphan or a loop.
        while node in parent and node not in depth and node not in seen:
            seen.append(node)
            node = parent[node]
        base = depth.get(node, -1) if node in depth else -1
        for i, n in enumerate(reversed(seen)):
            depth[n] = base + 1 + i
    return depth


def _waterfall(spans):  # type: ignore[no-untyped-def]
    """Depth-first, children by start time; orphans and loop members as roots."""
    by_id = {s.span_id: s for s in spans}
    children = defaultdict(list)
    roots = []
    for s in spans:
        if s.parent_span_id and s.parent_span_id in by_id and s.parent_span_id != s.span_id:
            children[s.parent_span_id].append(s)
        else:
            roots.append(s)
    out, seen = [], set()
    stack = sorted(roots, key=lambda s: s.start, reverse=True)
    while stack:
        s = stack.pop()
        if s.span_id in seen:
            continue
        seen.add(s.span_id)
        out.append(s)
        stack.extend(sorted(children[s.span_id], key=lambda c: c.start, reverse=True))
    out.extend(s for s in spans if s.span_id not in seen)  # members of parent loops
    return out


def upload(request: HttpRequest) -> HttpResponse:
    summary: ImportSummary | None = None
    if request.method == "POST":
        form = UploadForm(request.POST, request.FILES)
        if form.is_valid():
            summary = ImportSummary()
            for f in request.FILES.getlist("files"):
                trace_body_import(body=f.read(), name=f.name, summary=summary)
    else:
        form = UploadForm()
    return render(request, "upload.html", {"form": form, "summary": summary})
