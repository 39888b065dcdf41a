"""HTML pages: thin views over the selectors."""

from __future__ import annotations

import logging
import shutil
import time
from collections import defaultdict
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import orjson
from django.core.files.uploadedfile import UploadedFile
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse, QueryDict
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET
from kombu.exceptions import OperationalError as KombuOperationalError
from redis.exceptions import RedisError

from tracegraph.domain import (
    LINK_TYPES,
    LinkRecord,
    SpanKind,
    StatusCode,
    TraceRecord,
    normalize_trace_id,
)
from tracegraph.graphs.levels import trace_level
from tracegraph.render.figures import LINK_COLOURS, diagram, link_colour
from tracegraph.traces import jobs, selectors
from tracegraph.traces.graph_service import GraphParams, trace_graph
from tracegraph.traces.jobs import JobDict
from tracegraph.traces.tasks import import_file
from tracegraph.web.errors import ApiError, api
from tracegraph.web.forms import UploadForm
from tracegraph.web.graph_api import graph_params, graph_payload
from tracegraph.web.params import choice_param, span_id_param, trace_id_param
from tracegraph.web.payloads import link_dict, span_dict

__all__ = [
    "graph_figure",
    "graph_page",
    "job_status",
    "search",
    "span_detail",
    "trace_page",
    "upload",
]

log = logging.getLogger(__name__)


def _when(ns: int) -> str:
    return datetime.fromtimestamp(ns / 1e9, tz=UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]


def _ms(ns: int) -> str:
    ms = ns / 1e6
    if ms >= 1000:
        return f"{ms / 1000:.2f} s"
    return f"{ms:.2f} ms" if ms < 10 else f"{ms:.0f} ms"


#: Search time windows: query value -> (label, seconds; None = all time).
WINDOWS: dict[str, tuple[str, int | None]] = {
    "15m": ("last 15 min", 15 * 60),
    "1h": ("last 1 h", 3600),
    "6h": ("last 6 h", 6 * 3600),
    "24h": ("last 24 h", 24 * 3600),
    "7d": ("last 7 d", 7 * 24 * 3600),
    "all": ("all time", None),
}
LINK_TYPE_CHOICES = (*LINK_TYPES, "link")


def _search_filters(query: QueryDict) -> tuple[selectors.TraceFilter, dict[str, str]]:
    """Filters from the query string, and the raw values to refill the form.

    A malformed value raises :class:`ApiError` (400) naming the parameter.
    """
    raw = {
        k: query.get(k, "").strip()
        for k in ("service", "name", "window", "min_ms", "link_type", "attr")
    }
    raw["errors"] = "1" if query.get("errors") else ""
    raw["links"] = "1" if query.get("links") else ""
    window = raw["window"] or "all"
    if window not in WINDOWS:
        raise ApiError(400, f"parameter window={window[:16]!r} must be one of {', '.join(WINDOWS)}")
    raw["window"] = window
    seconds = WINDOWS[window][1]
    since = time.time_ns() - seconds * 1_000_000_000 if seconds else None
    min_duration = None
    if raw["min_ms"]:
        try:
            min_duration = int(float(raw["min_ms"]) * 1e6)
        except ValueError:
            raise ApiError(
                400, f"parameter min_ms={raw['min_ms'][:32]!r} is not a number"
            ) from None
        if min_duration < 0:
            raise ApiError(400, "parameter min_ms must be >= 0")
    if raw["link_type"] and raw["link_type"] not in LINK_TYPE_CHOICES:
        raise ApiError(400, f"parameter link_type={raw['link_type'][:40]!r} is not a link type")
    attribute = None
    if raw["attr"]:
        key, sep, value = raw["attr"].partition("=")
        if not sep or not key.strip():
            raise ApiError(400, "parameter attr must read key=value, e.g. http.route=/api/orders")
        attribute = (key.strip(), value.strip())
    filters = selectors.TraceFilter(
        service=raw["service"],
        name=raw["name"],
        since=since,
        min_duration=min_duration,
        errors=bool(raw["errors"]),
        has_links=bool(raw["links"]),
        link_type=raw["link_type"],
        attribute=attribute,
    )
    return filters, raw


def search(request: HttpRequest) -> HttpResponse:
    """``/``: recent traces, filtered; a trace id in the box jumps to the trace."""
    trace_id = request.GET.get("trace_id", "").strip()
    if trace_id:
        normal = normalize_trace_id(trace_id) if len(trace_id) in (16, 32) else None
        if normal:
            return redirect("trace", trace_id=normal)
    status, problem, rows = 200, "", []
    try:
        filters, raw = _search_filters(request.GET)
    except ApiError as exc:
        status, problem = exc.status, exc.message
        filters, raw = selectors.TraceFilter(), {"window": "all"}
    else:
        rows = [
            {"t": t, "when": _when(t.start), "duration": _ms(t.duration)}
            for t in selectors.trace_list(filters=filters)
        ]
    active = any(v for k, v in raw.items() if k != "window") or raw.get("window") != "all"
    return render(
        request,
        "search.html",
        {
            "rows": rows,
            "f": raw,
            "active": active,
            "problem": problem,
            "services": selectors.service_names(),
            "windows": [(k, label) for k, (label, _) in WINDOWS.items()],
            "link_types": [(t, link_colour(t)) for t in LINK_TYPE_CHOICES],
            "bad_trace_id": trace_id if trace_id else "",
        },
        status=status,
    )


def _stored_trace(trace_id: str) -> tuple[str, TraceRecord]:
    normal = normalize_trace_id(trace_id) if len(trace_id) in (16, 32) else None
    summary = selectors.trace_get(trace_id=normal) if normal else None
    if summary is None or normal is None:
        raise Http404(f"No trace {trace_id[:64]} is stored.")
    return normal, summary


def trace_page(request: HttpRequest, trace_id: str) -> HttpResponse:
    """``/traces/<id>``: the waterfall with link badges; ``?focus=<span>`` highlights one."""
    normal, summary = _stored_trace(trace_id)
    spans = selectors.trace_spans(trace_ids=[normal])
    incoming: dict[str, list[LinkRecord]] = defaultdict(list)
    for link in selectors.links_into(trace_ids=[normal]):
        incoming[link.linked_span_id].append(link)
    depth = _depths(spans)
    span_total = max(summary.duration, 1)
    rows = [
        {
            "s": s,
            "depth": depth[s.span_id],
            "indent": min(depth[s.span_id], 16) * 14,
            "kind": SpanKind(s.kind).name.lower()
            if s.kind in SpanKind._value2member_map_
            else s.kind,
            "error": s.status_code == StatusCode.ERROR,
            "offset": 100 * (s.start - summary.start) / span_total,
            "width": max(0.3, 100 * s.duration / span_total),
            "duration": _ms(s.duration),
            "links_out": len([link for link in s.links if not link.invalid]),
            "invalid": len([link for link in s.links if link.invalid]),
            "links_in": len(incoming.get(s.span_id, ())),
            "types": sorted(
                {link.link_type for link in s.links}
                | {link.link_type for link in incoming.get(s.span_id, ())}
            ),
        }
        for s in _waterfall(spans)
    ]
    focus = request.GET.get("focus", "")
    return render(
        request,
        "trace.html",
        {
            "summary": summary,
            "rows": rows,
            "when": _when(summary.start),
            "duration": _ms(summary.duration),
            "focus": focus if focus in {s.span_id for s in spans} else "",
            "focus_missing": focus if focus and focus not in {s.span_id for s in spans} else "",
            "colours": LINK_COLOURS,
        },
    )


def _json(data: Any, status: int = 200) -> HttpResponse:
    return HttpResponse(
        orjson.dumps(data, option=orjson.OPT_NON_STR_KEYS),
        content_type="application/json",
        status=status,
    )


@api
def span_detail(request: HttpRequest, trace_id: str, span_id: str) -> HttpResponse:
    """``/traces/<id>/spans/<span>``: page data for the span panel (trace and graph pages).

    The span (attributes, events, status), its links out and in, and for
    every trace on the other end whether it is stored and what it is.
    A span that is not stored but is linked to answers ``span: null``.
    """
    trace_id = trace_id_param(trace_id)
    span_id = span_id_param(span_id)
    span = selectors.span_get(trace_id=trace_id, span_id=span_id)
    links_in = selectors.span_links(trace_id=trace_id, span_id=span_id, direction="in")
    if span is None and not links_in:
        raise ApiError(404, f"span {trace_id}/{span_id} is not stored and nothing links to it")
    others = {link.trace_id for link in links_in}
    if span is not None:
        others |= {link.linked_trace_id for link in span.links if not link.invalid}
    others.add(trace_id)
    stored = {t.trace_id: t for t in selectors.traces_present(trace_ids=sorted(others))}
    return _json(
        {
            "trace_id": trace_id,
            "span_id": span_id,
            "span": span_dict(span, links_in) if span is not None else None,
            "links_in": [link_dict(link) for link in links_in],
            "traces": {
                t: {
                    "stored": t in stored,
                    "root_service": stored[t].root_service if t in stored else "",
                    "root_name": stored[t].root_name if t in stored else "",
                }
                for t in sorted(others)
            },
            "colours": LINK_COLOURS,
        }
    )


#: Above this many spans a neighbourhood is drawn one node per trace unless
#: the URL asks for ``level=span`` explicitly (DESIGN §9: readable and fast).
AUTO_SPAN_LIMIT = 20_000


def _graph_state(request: HttpRequest) -> tuple[GraphParams, str, bool]:
    params = graph_params(request.GET)
    layout = choice_param(request.GET, "layout", choices=("timeline", "dag"), default="timeline")
    explicit_level = bool(request.GET.get("level"))
    return params, layout, explicit_level


def graph_page(request: HttpRequest, trace_id: str) -> HttpResponse:
    """``/graph/<id>``: the page shell; the diagram comes from :func:`graph_figure`."""
    normal, summary = _stored_trace(trace_id)
    try:
        _graph_state(request)
    except ApiError as exc:
        return render(
            request,
            "problem.html",
            {"title": "Bad parameter", "message": exc.message, "trace_id": normal},
            status=exc.status,
        )
    return render(
        request,
        "graph.html",
        {
            "summary": summary,
            "when": _when(summary.start),
            "duration": _ms(summary.duration),
            "link_types": [(t, link_colour(t)) for t in LINK_TYPE_CHOICES],
            "colours": LINK_COLOURS,
        },
    )


@api
def graph_figure(request: HttpRequest, trace_id: str) -> HttpResponse:
    """``/graph/<id>/figure?<page params>``: the plotly figure plus the side-panel data.

    ``level`` absent means automatic: spans, or traces when the neighbourhood
    has more than :data:`AUTO_SPAN_LIMIT` spans (the answer says so).
    """
    trace_id = trace_id_param(trace_id)
    params, layout, explicit_level = _graph_state(request)
    view = trace_graph(trace_id=trace_id, params=params)
    if view is None:
        raise ApiError(404, f"trace {trace_id} is not stored")
    notice = ""
    if params.level == "span" and not explicit_level and view.stats["spans"] > AUTO_SPAN_LIMIT:
        params = replace(params, level="trace")
        view = replace(view, graph=trace_level(view.span_graph))
        notice = (
            f"This neighbourhood has {view.stats['spans']:,} spans, more than "
            f"{AUTO_SPAN_LIMIT:,}: showing one node per trace."
        )
    payload = graph_payload(view, params)
    unloaded = [c["trace_id"] for c in view.hood.cut]
    d = diagram(
        payload["nodes"],
        payload["edges"],
        level=params.level,  # type: ignore[arg-type]
        layout=layout,  # type: ignore[arg-type]
        unloaded=unloaded,
    )
    labels = {}
    if params.level != "service":
        for n in payload["nodes"]:
            t = n.get("trace_id") or n["id"]
            if params.level == "trace":
                labels[t] = [n.get("root_service", ""), n.get("root_name", "")]
            elif not n.get("parent") and not n.get("ghost") and t not in labels:
                labels[t] = [n.get("service", ""), n.get("name", "")]
    return _json(
        {
            "figure": d.figure,
            "traces": d.traces,
            "clickable": d.clickable,
            "links": d.links,
            "labels": labels,
            "layout": d.layout,
            "level": params.level,
            "auto_level": bool(notice),
            "notice": notice,
            "depth": params.depth,
            "max_traces": params.max_traces,
            "max_spans": params.max_spans,
            "patterns": payload["patterns"],
            "truncated": payload["truncated"],
            "cut": payload["cut"],
            "frontier": payload["frontier"],
            "missing": payload["missing"],
            "unloaded": unloaded,
            "hood": payload["traces"],
            "stats": payload["stats"],
            "colours": LINK_COLOURS,
        }
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
    """Save the files and queue an import job; the page polls its progress.

    With no REDIS_URL the task runs inline, so the job is done on return.
    """
    job: JobDict | None = None
    error = ""
    status = 200
    if request.method == "POST":
        form = UploadForm(request.POST, request.FILES)
        if form.is_valid():
            try:
                job = _upload_queue(request.FILES.getlist("files"))
            except (KombuOperationalError, RedisError) as exc:
                log.error("queueing an upload failed: %s", exc)
                error = (
                    "the job queue (Redis) is unreachable; nothing was imported, try again later"
                )
                status = 503
    else:
        form = UploadForm()
    return render(request, "upload.html", {"form": form, "job": job, "error": error}, status=status)


def _upload_queue(files: list[UploadedFile]) -> JobDict:
    job = jobs.job_create(kind="upload")
    folder, paths = jobs.upload_files_save(job_id=job["id"], files=files)
    # No transaction.on_commit: the task reads files and the cache, no rows.
    try:
        import_file.delay(job["id"], [str(p) for p in paths], cleanup=str(folder))
    except KombuOperationalError:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return jobs.job_get(job_id=job["id"]) or job  # done already when run inline


@require_GET
def job_status(request: HttpRequest, job_id: str) -> JsonResponse:
    """``GET /api/jobs/<id>``: a background job's state and progress."""
    job = jobs.job_get(job_id=job_id)
    if job is None:
        return JsonResponse({"error": f"no job {job_id[:64]} (unknown or expired)"}, status=404)
    return JsonResponse(job)
