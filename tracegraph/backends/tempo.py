"""The ``tempo`` backend: Grafana Tempo's HTTP API (``TRACEGRAPH_TEMPO_URL``).

- A trace: ``GET /api/v2/traces/<id>`` (``{"trace": {OTLP/JSON}, ...}``),
  falling back to the older ``GET /api/traces/<id>`` (``{"batches": ...}``,
  base64 ids, enum names); both go through the OTLP/JSON parser.
- Search: TraceQL, ``GET /api/search?q={ resource.service.name = "x" && name = "y" }``,
  over the last :data:`SEARCH_LOOKBACK_S` seconds (without ``start``/``end``
  Tempo would search its ingesters only). Tempo reports no link counts, so
  the summaries carry 0 links.
- Incoming links: Tempo >= 2.6 can search by link target,
  ``{ link:traceID = "<id>" }``; each trace found is fetched to read its
  actual links. Older Tempo (known from ``/api/status/buildinfo``) cannot, and
  ``incoming_known`` is False.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Sequence
from typing import Any

from tracegraph.backends._http import HttpClient, client_from_settings
from tracegraph.backends._remote import fetch_traces
from tracegraph.backends.base import (
    BackendError,
    BackendUnavailable,
    TraceNotFound,
    register_backend,
    trace_id_or_not_found,
)
from tracegraph.domain.ids import normalize_trace_id
from tracegraph.domain.records import LinkRecord, SpanRecord, TraceRecord
from tracegraph.ingest import ParseError, parse_otlp_json

__all__ = [
    "LINKS_SINCE",
    "LINK_QUERY_CHUNK",
    "LINK_SEARCH_LIMIT",
    "SEARCH_LOOKBACK_S",
    "TempoBackend",
    "parse_version",
    "traceql",
]

logger = logging.getLogger(__name__)

#: The first Tempo release whose TraceQL knows ``link:traceID``.
LINKS_SINCE = (2, 6)
#: How far back search looks (Grafana's default range is shorter; a day
#: finds yesterday's batch runs).
SEARCH_LOOKBACK_S = 24 * 3600
#: How far back incoming links are looked for: Tempo's default maximum
#: search range (``max_duration``, 168 h).
LINK_LOOKBACK_S = 168 * 3600
#: Target traces per ``link:traceID`` query, and holder traces per answer.
LINK_QUERY_CHUNK = 20
LINK_SEARCH_LIMIT = 100

_VERSION = re.compile(r"^v?(\d+)\.(\d+)(?:\.(\d+))?")


def parse_version(text: str) -> tuple[int, int, int] | None:
    """A release version from buildinfo; None for a dev build (``main-1a2b3c``).

    >>> parse_version("2.6.1"), parse_version("v2.10.0-rc.0"), parse_version("main-8f5d3a2")
    ((2, 6, 1), (2, 10, 0), None)
    """
    match = _VERSION.match(text.strip())
    if match is None:
        return None
    major, minor, patch = match.groups()
    return int(major), int(minor), int(patch or 0)


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def traceql(*, service: str = "", name: str = "") -> str:
    """The TraceQL query for a search form.

    >>> traceql(service="checkout", name='GET "/"')
    '{ resource.service.name = "checkout" && name = "GET \\\\"/\\\\"" }'
    >>> traceql()
    '{}'
    """
    conditions = []
    if service:
        conditions.append(f"resource.service.name = {_quote(service)}")
    if name:
        conditions.append(f"name = {_quote(name)}")
    return "{ " + " && ".join(conditions) + " }" if conditions else "{}"


def _window(lookback_s: int) -> dict[str, str | int]:
    end = int(time.time()) + 60  # a little slack for clock skew and spans in flight
    return {"start": end - lookback_s, "end": end}


def _trace_row(item: dict[str, Any]) -> TraceRecord | None:
    trace_id = normalize_trace_id(str(item.get("traceID") or ""))  # Tempo drops leading zeros
    if trace_id is None:
        return None
    start = int(item.get("startTimeUnixNano") or 0)
    duration_ns = int(float(item.get("durationMs") or 0) * 1_000_000)  # absent below 1 ms
    stats = item.get("serviceStats") or {}  # Tempo >= 2.2 counts spans per service
    return TraceRecord(
        trace_id=trace_id,
        root_service=str(item.get("rootServiceName") or ""),
        root_name=str(item.get("rootTraceName") or ""),
        start=start,
        end=start + duration_ns,
        span_count=sum(int(s.get("spanCount") or 0) for s in stats.values()),
        error_count=sum(int(s.get("errorCount") or 0) for s in stats.values()),
        links_out=0,
        links_in=0,
    )


@register_backend("tempo")
class TempoBackend:
    """Traces read from Grafana Tempo."""

    name = "tempo"

    def __init__(self, client: HttpClient) -> None:
        self.client = client
        # True once /api/v2/traces has answered: from then on its 404 means
        # "no such trace" and the v1 API is not asked. Absence is never
        # remembered (a 404 may mean either), so an upgraded Tempo is picked up.
        self.api_v2 = False
        self._incoming: bool | None = None

    @classmethod
    def from_settings(cls) -> TempoBackend:
        return cls(client_from_settings("TRACEGRAPH_TEMPO_URL", label="Tempo", backend="tempo"))

    # -- capabilities -------------------------------------------------------

    def version(self) -> tuple[int, int, int] | None:
        """Tempo's release from ``/api/status/buildinfo``; None if it does not say."""
        doc = self.client.get_json("/api/status/buildinfo")
        return parse_version(str(doc.get("version") or "")) if isinstance(doc, dict) else None

    @property
    def incoming_known(self) -> bool:
        """True on Tempo >= 2.6 (TraceQL ``link:traceID``); asked once, then remembered."""
        if self._incoming is None:
            try:
                version = self.version()
            except BackendError as exc:
                # Not remembered: an unreachable Tempo may be back next time.
                logger.warning("cannot tell the Tempo version: %s", exc)
                return False
            self._incoming = version is not None and version[:2] >= LINKS_SINCE
        return self._incoming

    # -- traces --------------------------------------------------------------

    def _parse(self, doc: Any, path: str, trace_id: str) -> list[SpanRecord]:
        if isinstance(doc, dict) and doc.get("status") == "PARTIAL":
            logger.warning("Tempo returned a partial trace %s: %s", trace_id, doc.get("message"))
        try:
            spans = parse_otlp_json(doc).spans
        except ParseError as exc:
            where = f"Tempo at {self.client.base_url}"
            raise BackendError(f"{where} answered {path} with {exc}") from exc
        return [s for s in spans if s.trace_id == trace_id]

    def get_trace(self, trace_id: str) -> list[SpanRecord]:
        normal = trace_id_or_not_found(trace_id, self.name)
        path = f"/api/v2/traces/{normal}"
        try:
            doc = self.client.get_json(path)
        except BackendUnavailable:
            raise
        except BackendError:
            doc = None  # an old Tempo may reject the v2 path outright
        if doc is not None:
            self.api_v2 = True
            spans = self._parse(doc, path, normal)
            if not spans:
                raise TraceNotFound(normal, self.name)
            return spans
        if self.api_v2:
            raise TraceNotFound(normal, self.name)
        path = f"/api/traces/{normal}"
        doc = self.client.get_json(path)
        spans = self._parse(doc, path, normal) if doc is not None else []
        if not spans:
            raise TraceNotFound(normal, self.name)
        return spans

    def spans_of(self, trace_ids: Sequence[str]) -> list[SpanRecord]:
        return fetch_traces(self.get_trace, trace_ids)

    def search(self, *, service: str = "", name: str = "", limit: int = 50) -> list[TraceRecord]:
        params: dict[str, str | int] = {"q": traceql(service=service, name=name), "limit": limit}
        doc = self.client.get_json("/api/search", {**params, **_window(SEARCH_LOOKBACK_S)})
        rows = [_trace_row(item) for item in (doc or {}).get("traces") or ()]
        found = [r for r in rows if r is not None]
        found.sort(key=lambda r: (-r.start, r.trace_id))
        return found[:limit]

    def links_into(self, trace_ids: Sequence[str]) -> list[LinkRecord]:
        if not self.incoming_known:
            return []
        targets = [t for t in dict.fromkeys(normalize_trace_id(t) for t in trace_ids) if t]
        holders: dict[str, None] = {}
        for i in range(0, len(targets), LINK_QUERY_CHUNK):
            chunk = targets[i : i + LINK_QUERY_CHUNK]
            query = "{ " + " || ".join(f"link:traceID = {_quote(t)}" for t in chunk) + " }"
            params = {"q": query, "limit": LINK_SEARCH_LIMIT, **_window(LINK_LOOKBACK_S)}
            doc = self.client.get_json("/api/search", params)
            for item in (doc or {}).get("traces") or ():
                holder = normalize_trace_id(str(item.get("traceID") or ""))
                if holder:
                    holders[holder] = None
        # The search only names the traces; the links themselves are in the spans.
        wanted = set(targets)
        return [
            link
            for span in fetch_traces(self.get_trace, list(holders))
            for link in span.links
            if link.linked_trace_id in wanted and not link.invalid
        ]
