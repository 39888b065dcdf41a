"""Snapshot shares: a graph view frozen now, answered long after its traces are gone.

``POST /api/shares`` with ``{"trace_id": ..., "params": {...}}`` (``params``
may also be the graph page's query string) builds the graph as
``/api/graph`` would and stores its answer; ``GET /api/shares/<id>`` returns
it (plus ``snapshot``: id, trace id, params, created, url), whatever
retention or the remote backend has done to the traces since; ``/s/<id>``
redirects to the graph page with ``snapshot=<id>``, which loads it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

import orjson
from django.db import IntegrityError, transaction
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, QueryDict
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt

from tracegraph.backends import get_backend
from tracegraph.traces.graph_service import trace_graph
from tracegraph.traces.models import SLUG_ALPHABET, Share
from tracegraph.web.errors import ApiError, api, json_response
from tracegraph.web.graph_api import graph_params, graph_payload
from tracegraph.web.params import choice_param, span_id_param, trace_id_param

__all__ = ["share_create", "share_detail", "share_redirect"]

#: The graph page's parameters a share keeps (and replays in its redirect).
PAGE_PARAMS = ("depth", "direction", "level", "layout", "focus", "types", "max_traces", "max_spans")
#: Parameters of the page or the API that mean nothing in a snapshot.
IGNORED_PARAMS = frozenset({"snapshot", "prefetch", "format"})
MAX_BODY_BYTES = 64 * 1024
_TRIES = 5  # slug collisions at 50 bits: never in practice, handled anyway


def _page_params(raw: Any) -> dict[str, str]:
    """The page parameters of a share request, validated; 400 naming a bad one."""
    items: list[tuple[str, str]]
    if isinstance(raw, str):
        items = [(str(k), str(v)) for k, v in QueryDict(raw.lstrip("?")).items()]
    elif isinstance(raw, Mapping):
        items = [
            (str(k), ",".join(map(str, v)) if isinstance(v, list) else str(v))
            for k, v in raw.items()
        ]
    elif raw is None:
        items = []
    else:
        raise ApiError(400, "params must be an object or a query string")
    params: dict[str, str] = {}
    for key, value in items:
        if key in IGNORED_PARAMS or value == "":
            continue
        if key not in PAGE_PARAMS:
            raise ApiError(400, f"parameter {key[:40]!r} is not a graph parameter")
        params[key] = value
    if "layout" in params:
        choice_param(params, "layout", choices=("timeline", "dag"), default="timeline")
    if "focus" in params:
        params["focus"] = span_id_param(params["focus"], name="focus")
    return params


@csrf_exempt  # no sessions or logins to ride on: a forged POST can only make a snapshot
@api(methods=("POST",))
def share_create(request: HttpRequest) -> HttpResponse:
    """``POST /api/shares``: build the graph now, store it, answer ``{id, url, api}`` (201)."""
    if len(request.body) > MAX_BODY_BYTES:
        raise ApiError(413, f"a share request is at most {MAX_BODY_BYTES} bytes")
    try:
        body = orjson.loads(request.body or b"{}")
    except orjson.JSONDecodeError:
        raise ApiError(400, 'send JSON: {"trace_id": "...", "params": {...}}') from None
    if not isinstance(body, dict):
        raise ApiError(400, 'send a JSON object: {"trace_id": "...", "params": {...}}')
    trace_id = trace_id_param(str(body.get("trace_id") or ""))
    page = _page_params(body.get("params", body.get("query")))
    params = graph_params(page)
    view = trace_graph(trace_id=trace_id, params=params)
    if view is None:
        raise ApiError(404, f"trace {trace_id} not found")
    payload = Share.encode(graph_payload(view, params))
    share = None
    for _ in range(_TRIES):
        try:
            with transaction.atomic():
                share = Share.objects.create(
                    id=Share.new_id(),
                    trace_id=trace_id,
                    params=page,
                    payload=payload,
                    backend=get_backend().name,
                )
            break
        except IntegrityError:
            continue
    if share is None:
        raise ApiError(503, "could not pick a free share id; retry")
    return json_response(_meta(share), status=201)


def _meta(share: Share) -> dict[str, Any]:
    return {
        "id": share.id,
        "url": reverse("share", args=[share.id]),
        "api": reverse("api-share", args=[share.id]),
        "trace_id": share.trace_id,
        "params": share.params,
        "backend": share.backend,
        "created": share.created.isoformat(),
    }


def _share_or_none(share_id: str) -> Share | None:
    if not share_id or len(share_id) > 16 or set(share_id) - set(SLUG_ALPHABET):
        return None
    return Share.objects.filter(pk=share_id).first()


@api
def share_detail(request: HttpRequest, share_id: str) -> HttpResponse:
    """``GET /api/shares/<id>``: the stored ``/api/graph`` answer plus ``snapshot`` (its meta)."""
    share = _share_or_none(share_id)
    if share is None:
        raise ApiError(404, f"no share {share_id[:40]!r}")
    response = json_response({**share.graph(), "snapshot": _meta(share)})
    response["Cache-Control"] = "public, max-age=86400, immutable"  # a snapshot never changes
    return response


def share_redirect(request: HttpRequest, share_id: str) -> HttpResponse:
    """``GET /s/<id>``: redirect to ``/graph/<trace_id>?<params>&snapshot=<id>``."""
    share = _share_or_none(share_id)
    if share is None:
        raise Http404(f"no share {share_id[:40]!r}")
    # In the page's order: a JSON column (jsonb) need not keep the keys' order.
    params = {k: share.params[k] for k in PAGE_PARAMS if k in share.params}
    query = urlencode({**params, "snapshot": share.id})
    return HttpResponseRedirect(f"{reverse('graph', args=[share.trace_id])}?{query}")
