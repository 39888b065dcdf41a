"""Findings, the detector registry and the shared detection context.

A detector is a function ``(G, ctx) -> list[Finding]`` registered with
:func:`detector`. :func:`detect_patterns` runs them in registration order
over one :class:`DetectionContext`; a detector *claims* the link edges its
findings explain, and later detectors skip claimed links, so one link is
never reported twice (the 6 links of a 4-step saga are one workflow chain,
not also a batch and six triggers).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import networkx as nx

from tracegraph.graphs.build import NodeKey, gc_paused, link_edges

__all__ = [
    "DETECTORS",
    "DetectionContext",
    "Detector",
    "EdgeId",
    "Finding",
    "LinkEdge",
    "detect_patterns",
    "detector",
]

#: A link edge as ``(cause, effect, key, data)``.
LinkEdge = tuple[NodeKey, NodeKey, int, dict[str, Any]]
#: A link edge's identity in the multigraph.
EdgeId = tuple[NodeKey, NodeKey, int]


@dataclass
class Finding:
    """One recognised pattern.

    Attributes
    ----------
    kind : str
        ``batch_fan_in``, ``fan_out_fan_in``, ``workflow_chain``,
        ``retry_chain``, ``async_trigger``, ``scheduled_trigger`` or
        ``event_trigger``.
    spans : list of (trace_id, span_id)
        The spans involved, in causal order where there is one.
    traces : list of str
        Their traces, in order of first appearance in ``spans``.
    summary : str
        One line with figures, for people.
    details : dict
        Per-kind figures, JSON-friendly apart from node keys being tuples.
    links : list of (cause, effect)
        The link edges this finding explains.
    """

    kind: str
    spans: list[NodeKey]
    traces: list[str]
    summary: str
    details: dict[str, Any] = field(default_factory=dict)
    links: list[tuple[NodeKey, NodeKey]] = field(default_factory=list)

    def as_dict(self, node: Callable[[NodeKey], Any] = list) -> dict[str, Any]:
        """Return a dict for any JSON encoder; ``node`` formats node keys.

        ``details`` is passed as it is: its node keys are tuples, which
        every JSON encoder writes as ``[trace_id, span_id]``.

        >>> f = Finding("retry_chain", [("t", "s")], ["t"], "x", links=[(("t", "s"), ("u", "v"))])
        >>> f.as_dict()["spans"], f.as_dict(":".join)["links"]
        ([['t', 's']], [['t:s', 'u:v']])
        """
        return {
            "kind": self.kind,
            "spans": [node(n) for n in self.spans],
            "traces": list(self.traces),
            "summary": self.summary,
            "details": self.details,
            "links": [[node(u), node(v)] for u, v in self.links],
        }


class DetectionContext:
    """Indexes shared by the detectors of one run, and the claimed links.

    Attributes
    ----------
    graph : networkx.MultiDiGraph
    links : list of LinkEdge
        Every link edge, in graph order.
    held : dict
        Effect (the span holding the links) -> its link edges.
    held_in_trace : dict
        Trace id -> the spans of that trace holding links.
    dropped : dict
        Span -> ``dropped_links_count`` for spans that lost links.
    """

    def __init__(self, G: nx.MultiDiGraph, links: list[LinkEdge] | None = None) -> None:
        self.graph = G
        self._nodes: dict[NodeKey, dict[str, Any]] = G._node  # read only
        self.links = link_edges(G) if links is None else links
        self.held: dict[NodeKey, list[LinkEdge]] = defaultdict(list)
        self.held_in_trace: dict[str, list[NodeKey]] = defaultdict(list)
        for e in self.links:
            if e[1] not in self.held:
                self.held_in_trace[e[1][0]].append(e[1])
            self.held[e[1]].append(e)
        anomalies = G.graph.get("anomalies") or {}
        self.dropped: dict[NodeKey, int] = {
            (t, s): n for t, s, n in anomalies.get("truncated_links", [])
        }
        self._claimed: set[EdgeId] = set()
        self._ancestors: dict[NodeKey, frozenset[NodeKey]] = {}

    def node(self, n: NodeKey) -> dict[str, Any]:
        """The attribute dict of node ``n``."""
        return self._nodes[n]

    def is_claimed(self, e: LinkEdge) -> bool:
        return (e[0], e[1], e[2]) in self._claimed

    def unclaimed(self, edges: Iterable[LinkEdge] | None = None) -> list[LinkEdge]:
        """The given link edges (default: all) not yet explained by a finding."""
        return [e for e in (self.links if edges is None else edges) if not self.is_claimed(e)]

    def claim(self, edges: Iterable[LinkEdge]) -> list[tuple[NodeKey, NodeKey]]:
        """Mark edges as explained; return them as ``(cause, effect)`` pairs."""
        pairs = []
        for e in edges:
            self._claimed.add((e[0], e[1], e[2]))
            pairs.append((e[0], e[1]))
        return pairs

    def parent(self, n: NodeKey) -> NodeKey | None:
        """The parent span of ``n``, if loaded and joined by a child edge.

        Looked up from ``n``'s ``parent`` attribute, not from an index of
        every child edge: detectors ask about the few spans that hold or
        are targets of links.
        """
        data = self._nodes.get(n)
        pid = data.get("parent") if data else None
        if not pid:
            return None
        pkey = (n[0], pid)
        keydict = self.graph._pred[n].get(pkey)
        if keydict and any(d.get("kind") == "child" for d in keydict.values()):
            return pkey
        return None

    def ancestors(self, n: NodeKey) -> frozenset[NodeKey]:
        """The proper ancestors of ``n`` over child edges (cached)."""
        found = self._ancestors.get(n)
        if found is None:
            parent = self.parent(n)
            found = frozenset() if parent is None else self.ancestors(parent) | {parent}
            self._ancestors[n] = found
        return found


Detector = Callable[[nx.MultiDiGraph, DetectionContext], list[Finding]]

#: Registered detectors by name, in the order they run.
DETECTORS: dict[str, Detector] = {}


def detector(name: str) -> Callable[[Detector], Detector]:
    """Register a detector under ``name``; detectors run in registration order.

    >>> @detector("doc_example")
    ... def nothing(G, ctx):
    ...     return []
    >>> "doc_example" in DETECTORS
    True
    >>> del DETECTORS["doc_example"]
    """

    def register(fn: Detector) -> Detector:
        if name in DETECTORS:
            raise ValueError(f"detector {name!r} is already registered")
        DETECTORS[name] = fn
        return fn

    return register


def detect_patterns(
    G: nx.MultiDiGraph,
    *,
    kinds: Iterable[str] | None = None,
    links: list[LinkEdge] | None = None,
) -> list[Finding]:
    """Run every registered detector over ``G`` and return their findings.

    Parameters
    ----------
    G : networkx.MultiDiGraph
        A graph from :func:`~tracegraph.graphs.build.build_graph`.
    kinds : iterable of str, optional
        Keep only findings of these kinds. All detectors still run, so a
        link claimed by one kind is not reported as another.
    links : list of LinkEdge, optional
        ``link_edges(G)``, when the caller has it already: one pass over
        every edge saved.

    Examples
    --------
    >>> from tracegraph.domain.records import LinkRecord, SpanRecord
    >>> from tracegraph.graphs.build import build_graph
    >>> t1, t2 = "1" * 32, "2" * 32
    >>> link = LinkRecord(t2, "b" * 16, 0, t1, "a" * 16, link_type="event_source")
    >>> G = build_graph([
    ...     SpanRecord(t1, "a" * 16, "command.create_order", 0, 10**9),
    ...     SpanRecord(t2, "b" * 16, "projection.order_created", 3 * 10**9, 4 * 10**9,
    ...                links=(link,)),
    ... ])
    >>> [f.summary for f in detect_patterns(G)]
    ['projection.order_created ran 2 s after command.create_order (event)']
    """
    import tracegraph.patterns.detectors  # noqa: F401 - registers the built-in detectors

    findings: list[Finding] = []
    with gc_paused():
        ctx = DetectionContext(G, links)
        for fn in DETECTORS.values():
            findings.extend(fn(G, ctx))
    if kinds is not None:
        wanted = set(kinds)
        findings = [f for f in findings if f.kind in wanted]
    return findings
