"""Expand a trace to its neighbourhood of linked traces, breadth-first.

*Backward* follows the links held by loaded spans to the traces they point
at (upstream: what caused this). *Forward* follows incoming links, the links
held by spans of other traces that point into the loaded ones (downstream:
what this caused), read from the store's reverse index.

The expansion is bounded by ``depth`` (in traces), ``max_traces`` and
``max_spans``, and says exactly where it stopped: every trace reachable in one
more step that was not loaded is listed with the number of links leading
there and why (``"depth"``, ``"max_traces"`` or ``"max_spans"``). Only the
bounds make the result ``truncated``; the ``depth`` edge is the ``frontier``
the UI offers to "expand further".
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol, TypedDict

import networkx as nx

from tracegraph.domain.records import LinkRecord, SpanRecord
from tracegraph.graphs.build import build_graph

__all__ = [
    "Cut",
    "Direction",
    "MemorySource",
    "Neighbourhood",
    "TraceSource",
    "expand",
]

Direction = Literal["both", "backward", "forward"]
_BOUNDS = ("max_traces", "max_spans")


class TraceSource(Protocol):
    """Where :func:`expand` reads traces from (the store, a remote backend, memory)."""

    @property
    def incoming_known(self) -> bool:
        """False if this source cannot answer :meth:`links_into` (forward is blind)."""
        ...

    def spans_of(self, trace_ids: Sequence[str]) -> list[SpanRecord]:
        """All spans of these traces (with their own links)."""
        ...

    def links_into(self, trace_ids: Sequence[str]) -> list[LinkRecord]:
        """Links held by any span whose target is a span of these traces."""
        ...


class MemorySource:
    """A :class:`TraceSource` over spans held in memory, for tests and notebooks.

    Examples
    --------
    >>> from tracegraph.domain.records import LinkRecord, SpanRecord
    >>> a = SpanRecord("1" * 32, "a" * 16, "produce", 0, 1)
    >>> link = LinkRecord("2" * 32, "b" * 16, 0, "1" * 32, "a" * 16)
    >>> b = SpanRecord("2" * 32, "b" * 16, "consume", 2, 3, links=(link,))
    >>> src = MemorySource([a, b])
    >>> [s.name for s in src.spans_of(["2" * 32])]
    ['consume']
    >>> [lk.trace_id[:1] for lk in src.links_into(["1" * 32])]
    ['2']
    """

    def __init__(self, spans: Iterable[SpanRecord], *, incoming_known: bool = True) -> None:
        self._by_trace: dict[str, list[SpanRecord]] = defaultdict(list)
        self._into: dict[str, list[LinkRecord]] = defaultdict(list)
        for span in spans:
            self._by_trace[span.trace_id].append(span)
            for link in span.links:
                if not link.invalid:
                    self._into[link.linked_trace_id].append(link)
        self._incoming_known = incoming_known

    @property
    def incoming_known(self) -> bool:
        return self._incoming_known

    def spans_of(self, trace_ids: Sequence[str]) -> list[SpanRecord]:
        return [s for t in dict.fromkeys(trace_ids) for s in self._by_trace.get(t, ())]

    def links_into(self, trace_ids: Sequence[str]) -> list[LinkRecord]:
        if not self._incoming_known:
            return []
        return [lk for t in dict.fromkeys(trace_ids) for lk in self._into.get(t, ())]


class Cut(TypedDict):
    """A trace one step beyond the neighbourhood, and why it was not loaded."""

    trace_id: str
    links: int
    reason: Literal["depth", "max_traces", "max_spans"]


@dataclass
class Neighbourhood:
    """The result of :func:`expand`.

    Attributes
    ----------
    graph : networkx.MultiDiGraph
        The span graph of the loaded traces (see :mod:`.build`); link targets
        and incoming-link holders outside them are ghost nodes.
    traces : list of (trace_id, depth)
        Loaded traces in breadth-first order; the start trace has depth 0.
    truncated : bool
        True exactly when ``max_traces`` or ``max_spans`` kept a reachable
        trace out.
    cut : list of Cut
        Every trace one step beyond the loaded ones, with the number of links
        leading there and the reason (bounds first, then depth).
    missing : list of str
        Loaded (asked for) traces for which the source returned no span.
    incoming_known : bool
        False when the source cannot list incoming links: forward expansion
        found nothing because it could not look.
    """

    graph: nx.MultiDiGraph
    traces: list[tuple[str, int]]
    truncated: bool = False
    cut: list[Cut] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    incoming_known: bool = True

    @property
    def frontier(self) -> list[Cut]:
        """The traces at ``depth + 1``, not loaded because of ``depth`` only."""
        return [c for c in self.cut if c["reason"] == "depth"]

    @property
    def trace_ids(self) -> list[str]:
        """The loaded trace ids in breadth-first order."""
        return [t for t, _ in self.traces]


def expand(
    source: TraceSource,
    trace_id: str,
    *,
    depth: int = 1,
    direction: Direction = "both",
    max_traces: int = 50,
    max_spans: int = 20_000,
) -> Neighbourhood:
    """Load ``trace_id`` and the traces linked to it, breadth-first.

    Parameters
    ----------
    source : TraceSource
        Where spans and incoming links are read; called once per level.
    trace_id : str
        The start trace. It is always loaded whole, even when it alone has
        more than ``max_spans`` spans; the bounds apply to the others.
    depth : int, default 1
        How many link steps (in traces) to follow; 0 is the trace alone.
    direction : {"both", "backward", "forward"}
        ``backward`` follows outgoing links (to causes), ``forward`` incoming
        links (to effects), ``both`` either at every step.
    max_traces, max_spans : int
        Bounds on the traces and spans loaded. At each level the candidates
        with the most links leading to them come first (ties by trace id).

    Returns
    -------
    Neighbourhood

    Examples
    --------
    >>> from tracegraph.domain.records import LinkRecord, SpanRecord
    >>> t = ["%032x" % i for i in (1, 2, 3)]
    >>> def span(i, link_to=None):
    ...     links = () if link_to is None else (
    ...         LinkRecord(t[i], "%016x" % (i + 1), 0, t[link_to], "%016x" % (link_to + 1)),)
    ...     return SpanRecord(t[i], "%016x" % (i + 1), f"s{i}", 0, 1, links=links)
    >>> src = MemorySource([span(0), span(1, link_to=0), span(2, link_to=1)])
    >>> hood = expand(src, t[1], depth=1)
    >>> [(tid[-1], d) for tid, d in hood.traces]
    [('2', 0), ('1', 1), ('3', 1)]
    >>> hood.truncated, hood.frontier
    (False, [])
    >>> hood = expand(src, t[0], depth=1, direction="forward")
    >>> [c["trace_id"][-1] for c in hood.frontier]
    ['3']
    """
    if depth < 0:
        raise ValueError("depth must be >= 0")
    if direction not in ("both", "backward", "forward"):
        raise ValueError(f"direction must be both, backward or forward, not {direction!r}")
    if max_traces < 1 or max_spans < 1:
        raise ValueError("max_traces and max_spans must be >= 1")
    backward = direction in ("both", "backward")
    forward = direction in ("both", "forward")

    depth_of: dict[str, int] = {}
    spans: list[SpanRecord] = []
    incoming: list[LinkRecord] = []
    missing: list[str] = []
    cut: dict[str, Cut] = {}

    def neighbours(level_spans: list[SpanRecord], level_in: list[LinkRecord]) -> Counter[str]:
        found: Counter[str] = Counter()
        if backward:
            for span in level_spans:
                for link in span.links:
                    if not link.invalid and link.linked_trace_id not in depth_of:
                        found[link.linked_trace_id] += 1
        if forward:
            for link in level_in:
                if link.trace_id not in depth_of:
                    found[link.trace_id] += 1
        return found

    level = [trace_id]
    pending: dict[str, int] = {trace_id: 0}  # links leading to each candidate
    d = 0
    while level:
        level_spans = source.spans_of(level)
        if d > 0:
            level, level_spans = _fit(level, level_spans, len(spans), max_spans)
            for t in pending:
                if t not in level:
                    cut[t] = {"trace_id": t, "links": pending[t], "reason": "max_spans"}
        got = {s.trace_id for s in level_spans}
        for t in level:
            depth_of[t] = d
            if t not in got:
                missing.append(t)
        spans.extend(level_spans)
        level_in = source.links_into(level) if forward and level else []
        incoming.extend(level_in)
        found = neighbours(level_spans, level_in)
        for t in list(found):
            if t in cut:  # already cut by a bound: count these links there too
                cut[t]["links"] += found.pop(t)
        level, pending = [], {}
        for t, n in sorted(found.items(), key=lambda kv: (-kv[1], kv[0])):
            if d >= depth:
                cut[t] = {"trace_id": t, "links": n, "reason": "depth"}
            elif len(depth_of) + len(level) >= max_traces:
                cut[t] = {"trace_id": t, "links": n, "reason": "max_traces"}
            else:
                level.append(t)
                pending[t] = n
        d += 1

    graph = build_graph(spans, links=incoming)
    order = {"max_traces": 0, "max_spans": 1, "depth": 2}
    cuts = sorted(cut.values(), key=lambda c: (order[c["reason"]], -c["links"], c["trace_id"]))
    return Neighbourhood(
        graph=graph,
        traces=list(depth_of.items()),
        truncated=any(c["reason"] in _BOUNDS for c in cuts),
        cut=cuts,
        missing=missing,
        incoming_known=source.incoming_known,
    )


def _fit(
    level: list[str], level_spans: list[SpanRecord], loaded: int, max_spans: int
) -> tuple[list[str], list[SpanRecord]]:
    """Keep the traces of ``level``, in order, whose spans still fit ``max_spans``.

    A trace that does not fit is skipped whole (never half a trace); a smaller
    one after it may still fit.
    """
    if loaded + len(level_spans) <= max_spans:  # all of them fit: nothing to sort out
        return level, level_spans
    by_trace: dict[str, list[SpanRecord]] = defaultdict(list)
    for span in level_spans:
        by_trace[span.trace_id].append(span)
    kept: list[str] = []
    kept_spans: list[SpanRecord] = []
    for t in level:
        extra = by_trace.get(t, [])
        if loaded + len(kept_spans) + len(extra) <= max_spans:
            kept.append(t)
            kept_spans.extend(extra)
    return kept, kept_spans
