"""What the remote backends share: fetching several traces at once."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

from tracegraph.backends.base import TraceNotFound
from tracegraph.domain.ids import normalize_trace_id
from tracegraph.domain.records import SpanRecord

__all__ = ["MAX_PARALLEL_FETCHES", "fetch_traces"]

#: Trace fetches in flight at once: enough to hide latency when a graph
#: expands to dozens of linked traces, few enough not to hammer the backend.
MAX_PARALLEL_FETCHES = 8


def _fetch_or_nothing(
    get_trace: Callable[[str], list[SpanRecord]], trace_id: str
) -> list[SpanRecord]:
    try:
        return get_trace(trace_id)
    except TraceNotFound:
        return []  # the caller (graph expansion) reports traces that came back empty


def fetch_traces(
    get_trace: Callable[[str], list[SpanRecord]], trace_ids: Sequence[str]
) -> list[SpanRecord]:
    """The spans of each trace, in the order asked; unknown and invalid ids are skipped.

    Backend failures (:class:`BackendUnavailable`) propagate: a half-loaded
    neighbourhood must not look complete.
    """
    ids = [t for t in dict.fromkeys(normalize_trace_id(t) for t in trace_ids) if t]
    if len(ids) <= 1:
        return [s for t in ids for s in _fetch_or_nothing(get_trace, t)]
    with ThreadPoolExecutor(max_workers=min(MAX_PARALLEL_FETCHES, len(ids))) as pool:
        results = list(pool.map(lambda t: _fetch_or_nothing(get_trace, t), ids))
    return [s for spans in results for s in spans]
