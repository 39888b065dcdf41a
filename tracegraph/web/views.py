"""HTML pages: thin views over the selectors."""

from __future__ import annotations

import functools
import logging
import shutil
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from django.core.files.uploadedfile import UploadedFile
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse, QueryDict
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET
from kombu.exceptions import OperationalError as KombuOperationalError
from redis.exceptions import RedisError

from tracegraph.backends import (
    BackendError,
    BackendUnavailable,
    TraceBackend,
    TraceNotFound,
    get_backend,
    summarise_traces,
)
from tracegraph.domain import (
    LINK_TYPES,
    LinkRecord,
    SpanKind,
    StatusCode,
    TraceRecord,
    normalize_trace_id,
)
from tracegraph.domain.gc import gc_paused
from tracegraph.graphs.export import level_edges, level_nodes, span_elements
from tracegraph.graphs.levels import trace_level
from tracegraph.render.figures import LINK_COLOURS, diagram_of, link_colour
from tracegraph.render.layout import Pair, edge_pairs
from tracegraph.traces import jobs, selectors
from tracegraph.traces.graph_service import GraphParams, trace_graph
from tracegraph.traces.jobs import JobDict
from tracegraph.traces.models import SLUG_ALPHABET, Share
from tracegraph.traces.remote import is_remote
from tracegraph.traces.tasks import import_file
from tracegraph.web.errors import ApiError, api, json_response
from tracegraph.web.forms import UploadForm
from tracegraph.web.graph_api import graph_params, graph_summary
from tracegraph.web.params import choice_param, span_id_param, trace_id_param
from tracegraph.web.payloads import link_dict, span_dict
from tracegraph.web.waterfall import rows_html

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


def _local(backend: TraceBackend) -> bool:
    """The app's own store: the pages use its richer selectors and filters."""
    return backend.name == "local"


def _backend_pages(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Backend errors as pages: not found is the 404 page, no answer a 503, else a 502."""

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            return view(request, *args, **kwargs)
        except TraceNotFound as exc:
            raise Http404(str(exc)) from None
        except BackendUnavailable as exc:
            title, status, message = "Trace backend unavailable", 503, str(exc)
        except BackendError as exc:
            title, status, message = "Trace backend error", 502, str(exc)
        return render(
            request,
            "problem.html",
            {"title": title, "message": message, "trace_id": ""},
            status=status,
        )

    return wrapper


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


#: The search filters a remote backend can apply; the others are shown disabled.
REMOTE_FILTERS = frozenset({"service", "name"})
REMOTE_SEARCH_LIMIT = 50


@_backend_pages
def search(request: HttpRequest) -> HttpResponse:
    """``/``: recent traces, filtered; a trace id in the box jumps to the trace.

    On a remote backend only the service and span name reach it (its search
    API knows no more); link counts it cannot know show as "—", not 0.
    """
    trace_id = request.GET.get("trace_id", "").strip()
    if trace_id:
        normal = normalize_trace_id(trace_id) if len(trace_id) in (16, 32) else None
        if normal:
            return redirect("trace", trace_id=normal)
    backend = get_backend()
    local = _local(backend)
    status, problem, rows = 200, "", []
    try:
        filters, raw = _search_filters(request.GET)
    except ApiError as exc:
        status, problem = exc.status, exc.message
        filters, raw = selectors.TraceFilter(), {"window": "all"}
    else:
        if local:
            found = selectors.trace_list(filters=filters)
        else:
            found = backend.search(
                service=raw["service"], name=raw["name"], limit=REMOTE_SEARCH_LIMIT
            )
        rows = [{"t": t, "when": _when(t.start), "duration": _ms(t.duration)} for t in found]
    active = any(v for k, v in raw.items() if k != "window") or raw.get("window") != "all"
    ignored = [] if local else [k for k, v in raw.items() if v and k not in REMOTE_FILTERS]
    if not local and raw.get("window") == "all":
        ignored = [k for k in ignored if k != "window"]
    return render(
        request,
        "search.html",
        {
            "rows": rows,
            "f": raw,
            "active": active,
            "problem": problem,
            "services": selectors.service_names() if local else _remote_services(backend),
            "windows": [(k, label) for k, (label, _) in WINDOWS.items()],
            "link_types": [(t, link_colour(t)) for t in LINK_TYPE_CHOICES],
            "bad_trace_id": trace_id if trace_id else "",
            "local": local,
            "backend": backend.name,
            "incoming_known": backend.incoming_known,
            "ignored": ignored,
        },
        status=status,
    )


def _remote_services(backend: TraceBackend) -> list[str]:
    """The services a remote backend lists, if it can (Jaeger); [] means type one."""
    services = getattr(backend, "services", None)
    if services is None:
        return []
    try:
        return list(services())
    except BackendError as exc:
        log.warning("listing the services of %s failed: %s", backend.name, exc)
        return []


def _stored_trace(trace_id: str) -> tuple[str, TraceRecord]:
    normal = normalize_trace_id(trace_id) if len(trace_id) in (16, 32) else None
    summary = selectors.trace_get(trace_id=normal) if normal else None
    if summary is None or normal is None:
        raise Http404(f"No trace {trace_id[:64]} is stored.")
    return normal, summary


def _backend_trace(
    backend: TraceBackend, trace_id: str
) -> tuple[str, TraceRecord, list[Any], list[LinkRecord]]:
    """Id, summary, spans and incoming links of a trace read through ``backend``.

    Raises :class:`TraceNotFound` (also for a malformed id), or the backend's errors.
    """
    normal = normalize_trace_id(trace_id) if len(trace_id) in (16, 32) else None
    if normal is None:
        raise TraceNotFound(trace_id[:64], backend.name)
    spans = backend.get_trace(normal)
    incoming = backend.links_into([normal]) if backend.incoming_known else []
    counts = {normal: len(incoming)} if backend.incoming_known else None
    summary = summarise_traces(spans, links_in=counts)[0]
    return normal, summary, spans, incoming


@_backend_pages
def trace_page(request: HttpRequest, trace_id: str) -> HttpResponse:
    """``/traces/<id>``: the waterfall with link badges; ``?focus=<span>`` highlights one."""
    backend = get_backend()
    if _local(backend):
        normal, summary = _stored_trace(trace_id)
        # The rows need no attributes or events (the span panel asks for them):
        # the graph's lean read, in start order.
        spans = sorted(
            selectors.graph_spans(trace_ids=[normal]), key=lambda s: (s.start, s.span_id)
        )
        links_in = selectors.links_into(trace_ids=[normal])
    else:
        normal, summary, spans, links_in = _backend_trace(backend, trace_id)
    incoming: dict[str, list[LinkRecord]] = defaultdict(list)
    for link in links_in:
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
            "waterfall": rows_html(rows),
            "when": _when(summary.start),
            "duration": _ms(summary.duration),
            "focus": focus if focus in {s.span_id for s in spans} else "",
            "focus_missing": focus if focus and focus not in {s.span_id for s in spans} else "",
            "colours": LINK_COLOURS,
            "backend": backend.name,
            "incoming_known": backend.incoming_known,
        },
    )


@api
def span_detail(request: HttpRequest, trace_id: str, span_id: str) -> HttpResponse:
    """``/traces/<id>/spans/<span>``: page data for the span panel (trace and graph pages).

    The span (attributes, events, status), its links out and in, and for
    every trace on the other end whether it is stored and what it is.
    A span that is not stored but is linked to answers ``span: null``.
    On a remote backend the other traces are not fetched (``stored`` is
    unknown, so true: the link is followed on click) and ``incoming_known``
    says whether ``links_in`` can be trusted.
    """
    trace_id = trace_id_param(trace_id)
    span_id = span_id_param(span_id)
    backend = get_backend()
    local = _local(backend)
    if local:
        span = selectors.span_get(trace_id=trace_id, span_id=span_id)
        links_in = selectors.span_links(trace_id=trace_id, span_id=span_id, direction="in")
    else:
        spans = backend.get_trace(trace_id)
        span = next((s for s in spans if s.span_id == span_id), None)
        links_in = [
            link
            for link in (backend.links_into([trace_id]) if backend.incoming_known else [])
            if link.linked_span_id == span_id
        ]
    if span is None and not links_in:
        raise ApiError(404, f"span {trace_id}/{span_id} is not stored and nothing links to it")
    others = {link.trace_id for link in links_in}
    if span is not None:
        others |= {link.linked_trace_id for link in span.links if not link.invalid}
    others.add(trace_id)
    if local:
        stored = {t.trace_id: t for t in selectors.traces_present(trace_ids=sorted(others))}
        traces = {
            t: {
                "stored": t in stored,
                "root_service": stored[t].root_service if t in stored else "",
                "root_name": stored[t].root_name if t in stored else "",
            }
            for t in sorted(others)
        }
    else:
        traces = {
            t: {"stored": True, "root_service": backend.name, "root_name": f"trace {t[:12]}…"}
            for t in sorted(others)
        }
    return json_response(
        {
            "trace_id": trace_id,
            "span_id": span_id,
            "span": span_dict(span, links_in) if span is not None else None,
            "links_in": [link_dict(link) for link in links_in],
            "traces": traces,
            "backend": backend.name,
            "incoming_known": backend.incoming_known,
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


def _share(share_id: str) -> Share:
    """The snapshot ``share_id``; 404 when there is none (a malformed id cannot exist)."""
    share = None
    if share_id and len(share_id) <= 16 and not set(share_id) - set(SLUG_ALPHABET):
        share = Share.objects.filter(pk=share_id).first()
    if share is None:
        raise ApiError(404, f"no snapshot {share_id[:40]!r}")
    return share


def _placeholder(trace_id: str) -> TraceRecord:
    """A header for a trace the page does not read itself; the figure fills it in."""
    return TraceRecord(trace_id, "", "", 0, 0, 0, 0, 0, 0)


def graph_page(request: HttpRequest, trace_id: str) -> HttpResponse:
    """``/graph/<id>``: the page shell; the diagram comes from :func:`graph_figure`.

    With ``snapshot=<share>`` the diagram is the stored one, so the trace may
    be gone (purged, or dropped by a remote backend). On a remote backend the
    page does not fetch the trace itself: the figure request does, once.
    """
    backend = get_backend()
    share = None
    try:
        _graph_state(request)
        if request.GET.get("snapshot"):
            share = _share(request.GET["snapshot"])
    except ApiError as exc:
        return render(
            request,
            "problem.html",
            {"title": "Bad parameter", "message": exc.message, "trace_id": ""},
            status=exc.status,
        )
    remote = is_remote(backend)
    if share is not None or remote:
        normal = share.trace_id if share is not None else normalize_trace_id(trace_id)
        if normal is None:
            raise Http404(f"{trace_id[:64]} is not a trace id.")
        summary = _placeholder(normal)
        if _local(backend):
            summary = selectors.trace_get(trace_id=normal) or summary
    else:
        _, summary = _stored_trace(trace_id)
    return render(
        request,
        "graph.html",
        {
            "summary": summary,
            "when": _when(summary.start),
            "duration": _ms(summary.duration),
            "link_types": [(t, link_colour(t)) for t in LINK_TYPE_CHOICES],
            "colours": LINK_COLOURS,
            "remote": remote and share is None,
            "backend": backend.name,
            "snapshot": share.id if share is not None else "",
        },
    )


@api
@gc_paused()  # 100,000 spans: ~1,000,000 containers alive until the answer is sent
def graph_figure(request: HttpRequest, trace_id: str) -> HttpResponse:
    """``/graph/<id>/figure?<page params>``: the plotly figure plus the side-panel data.

    ``level`` absent means automatic: spans, or traces when the neighbourhood
    has more than :data:`AUTO_SPAN_LIMIT` spans (the answer says so).
    ``snapshot=<share>`` draws the stored graph of that share instead of the
    live one, the same way (only ``layout`` may differ from the share's).
    """
    trace_id = trace_id_param(trace_id)
    params, layout, explicit_level = _graph_state(request)
    if request.GET.get("snapshot"):
        return _snapshot_figure(request, trace_id)
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
    # The span graph is drawn from its own dicts, not the API's (a quarter of
    # a second less at 100,000 spans); the levels' graphs are small.
    nodes: list[dict[str, Any]]
    pairs: list[Pair]
    if params.level == "span":
        nodes, pairs = span_elements(view.graph)  # type: ignore[arg-type]
    else:
        nodes = level_nodes(view.graph)
        pairs = edge_pairs(nodes, level_edges(view.graph))
    unloaded = [c["trace_id"] for c in view.hood.cut]
    answer = _figure_answer(
        graph_summary(view, params), nodes, pairs, params, layout, unloaded=unloaded, notice=notice
    )
    if trace_id not in answer["labels"]:  # service level: the page's title still names the trace
        own = (d for d in view.span_graph._node.values() if d["trace_id"] == trace_id)
        answer["labels"][trace_id] = _root_labels(own).get(trace_id, ["", ""])
    return json_response(answer)


def _root_labels(nodes: Iterable[Mapping[str, Any]]) -> dict[str, list[str]]:
    """``{trace_id: [service, name]}`` of each trace's first root among span nodes."""
    labels: dict[str, list[str]] = {}
    for n in nodes:
        t = n.get("trace_id") or n["id"]
        if not n.get("parent") and not n.get("ghost") and t not in labels:
            labels[t] = [n.get("service", ""), n.get("name", "")]
    return labels


def _snapshot_figure(request: HttpRequest, trace_id: str) -> HttpResponse:
    share = _share(request.GET["snapshot"])
    if share.trace_id != trace_id:
        raise ApiError(400, f"snapshot {share.id} is of trace {share.trace_id}, not {trace_id}")
    payload = share.graph()
    params = replace(graph_params(share.params), level=payload.get("level", "span"))
    layout = choice_param(
        request.GET,
        "layout",
        choices=("timeline", "dag"),
        default=share.params.get("layout", "timeline"),
    )
    # The live answer's cut includes the depth frontier; a stored one keeps them apart.
    unloaded = [c["trace_id"] for c in (*payload.get("cut", ()), *payload.get("frontier", ()))]
    nodes = payload["nodes"]
    answer = _figure_answer(
        payload, nodes, edge_pairs(nodes, payload["edges"]), params, layout, unloaded=unloaded
    )
    answer["snapshot"] = {
        "id": share.id,
        "created": share.created.isoformat(),
        "when": share.created.strftime("%Y-%m-%d %H:%M:%S UTC"),
        "backend": share.backend,
    }
    return json_response(answer)


def _figure_answer(
    payload: dict[str, Any],
    nodes: list[dict[str, Any]],
    pairs: list[Pair],
    params: GraphParams,
    layout: str,
    *,
    unloaded: list[str],
    notice: str = "",
) -> dict[str, Any]:
    """The figure endpoint's answer for a graph (live or stored): its nodes and
    edges, and the rest of its payload (:func:`graph_summary`)."""
    d = diagram_of(
        nodes,
        pairs,
        level=params.level,
        layout=layout,  # type: ignore[arg-type]
        unloaded=unloaded,
    )
    labels: dict[str, list[str]] = {}
    if params.level == "trace":
        labels = {
            n.get("trace_id") or n["id"]: [n.get("root_service", ""), n.get("root_name", "")]
            for n in nodes
        }
    elif params.level == "span":
        labels = _root_labels(nodes)
    stats = payload["stats"]
    return {
        "figure": d.figure,
        "traces": d.traces,
        "clickable": d.clickable,
        "links": d.links,
        "labels": labels,
        "layout": d.layout,
        "level": params.level,
        "auto_level": bool(notice),
        "notice": notice,
        "banner": payload.get("banner") or stats.get("banner", ""),
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
        "stats": stats,
        "colours": LINK_COLOURS,
    }


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
