"""The causal journey of one span across traces: where it came from, what it led to.

Backward, from the span up its parents until a span that holds links, then
over a link to its cause (the latest-ending one when there are several: the
one the effect waited for), and again from there, until a trace root with no
link. Forward, from the span over its descendants and the links they are the
cause of, to the span that ends latest, by the fewest hops.

The result lists the steps in causal order and splits the end-to-end latency
into time in spans and time waiting between them (the gaps at link steps: a
queue, a schedule delay, a retry backoff, a workflow step gap).
"""

from __future__ import annotations

import itertools
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Literal

import networkx as nx

from tracegraph.domain.records import SpanKind
from tracegraph.graphs.build import NodeKey

__all__ = ["GAP_KINDS", "Gap", "Journey", "JourneyStep", "journey"]

#: What a wait before a link step is called, per link type. An untyped link
#: (``"link"``) from a PRODUCER or to a CONSUMER span is a ``queue``, else ``wait``.
GAP_KINDS = {
    "async_trigger": "queue",
    "batch_source": "queue",
    "event_source": "queue",
    "fanout_source": "wait",
    "scheduled_trigger": "schedule",
    "retry_previous": "backoff",
    "workflow_predecessor": "step",
}


@dataclass(frozen=True)
class JourneyStep:
    """One span on the journey and how it was reached from the previous step."""

    node: NodeKey
    trace_id: str
    name: str
    service: str
    start: int
    end: int
    via: Literal["origin", "child", "link"]
    link_type: str | None = None


@dataclass(frozen=True)
class Gap:
    """The wait between a cause ending and its effect starting (ns, >= 0)."""

    cause: NodeKey
    effect: NodeKey
    link_type: str
    kind: str
    duration: int


@dataclass
class Journey:
    """The result of :func:`journey`.

    ``latency`` is the last end minus the first start over the steps;
    ``waiting`` the sum of the gaps; ``busy`` the rest. ``focus`` is the
    index of the requested span in ``steps``. ``dangling`` lists ghost spans
    where the journey could go no further (the link target is not loaded).
    """

    steps: list[JourneyStep]
    focus: int
    latency: int
    busy: int
    waiting: int
    gaps: list[Gap] = field(default_factory=list)
    dangling: list[NodeKey] = field(default_factory=list)

    @property
    def traces(self) -> list[str]:
        """The traces crossed, in causal order."""
        return list(dict.fromkeys(s.trace_id for s in self.steps))


def _structural_gap(G: nx.MultiDiGraph, cause: NodeKey, effect: NodeKey) -> str:
    """An untyped link from a PRODUCER or to a CONSUMER span crossed a queue."""
    messaging = (
        G.nodes[cause]["kind"] == SpanKind.PRODUCER or G.nodes[effect]["kind"] == SpanKind.CONSUMER
    )
    return "queue" if messaging else "wait"


def _parent(G: nx.MultiDiGraph, n: NodeKey) -> NodeKey | None:
    for p, _, d in G.in_edges(n, data=True):
        if d.get("kind") == "child":
            return p  # type: ignore[no-any-return]
    return None


def _causes(G: nx.MultiDiGraph, n: NodeKey) -> list[tuple[NodeKey, dict[str, Any]]]:
    return [(c, d) for c, _, d in G.in_edges(n, data=True) if d.get("kind") == "link"]


def _step(G: nx.MultiDiGraph, n: NodeKey, via: Any, link_type: str | None) -> JourneyStep:
    data = G.nodes[n]
    return JourneyStep(
        node=n,
        trace_id=data["trace_id"],
        name=data["name"],
        service=data["service"],
        start=data["start"],
        end=data["end"],
        via=via,
        link_type=link_type,
    )


def journey(G: nx.MultiDiGraph, node: NodeKey) -> Journey:
    """Return the causal path through ``node``, from its origin to its last effect.

    Parameters
    ----------
    G : networkx.MultiDiGraph
        A graph from :func:`~tracegraph.graphs.build.build_graph`.
    node : (trace_id, span_id)
        A loaded (non-ghost) span.

    Examples
    --------
    >>> from tracegraph.domain.records import LinkRecord, SpanRecord
    >>> from tracegraph.graphs.build import build_graph
    >>> t1, t2 = "1" * 32, "2" * 32
    >>> link = LinkRecord(t2, "b" * 16, 0, t1, "a" * 16, link_type="async_trigger")
    >>> G = build_graph([
    ...     SpanRecord(t1, "a" * 16, "publish", 0, 10),
    ...     SpanRecord(t2, "b" * 16, "consume", 40, 60, links=(link,)),
    ...     SpanRecord(t2, "c" * 16, "save", 45, 55, parent_span_id="b" * 16),
    ... ])
    >>> j = journey(G, (t2, "c" * 16))
    >>> [(s.name, s.via) for s in j.steps]
    [('publish', 'origin'), ('consume', 'link'), ('save', 'child')]
    >>> j.latency, j.waiting, j.busy, j.gaps[0].kind
    (60, 30, 30, 'queue')
    """
    if node not in G:
        raise nx.NodeNotFound(f"span {node!r} is not in the graph")
    if G.nodes[node]["ghost"]:
        raise ValueError(f"span {node!r} is a ghost (not loaded)")
    dangling: list[NodeKey] = []

    # Backward: collect steps from the focus to the origin, then reverse.
    back: list[tuple[NodeKey, str, str | None]] = []  # (node, via into the *next* step)
    seen = {node}
    cur: NodeKey | None = node
    via: str = "origin"
    link_type: str | None = None
    while cur is not None:
        back.append((cur, via, link_type))
        causes = [(c, d) for c, d in _causes(G, cur) if c not in seen]
        real = [(c, d) for c, d in causes if not G.nodes[c]["ghost"]]
        dangling.extend(c for c, _ in causes if G.nodes[c]["ghost"])
        if real:
            # The cause the effect waited for: the one that ended last.
            cur, data = max(real, key=lambda cd: (G.nodes[cd[0]]["end"], cd[0]))
            via, link_type = "link", data.get("link_type", "link")
        else:
            cur = _parent(G, cur)
            via, link_type = "child", None
            if cur in seen:
                cur = None
        if cur is not None:
            seen.add(cur)
    # back[i] was reached from back[i+1] with the via stored at back[i+1].
    steps: list[JourneyStep] = []
    for i in range(len(back) - 1, -1, -1):
        n = back[i][0]
        if i == len(back) - 1:
            steps.append(_step(G, n, "origin", None))
        else:
            _, how, lt = back[i + 1]
            steps.append(_step(G, n, how, lt))
    focus = len(steps) - 1

    # Forward: BFS over out-edges (children and effects), fewest hops.
    pred: dict[NodeKey, tuple[NodeKey, str, str | None]] = {}
    queue = deque([node])
    best = node
    fseen = {node}
    while queue:
        u = queue.popleft()
        for _, v, d in G.out_edges(u, data=True):
            if v in fseen or v in seen:
                continue
            if G.nodes[v]["ghost"]:
                dangling.append(v)
                continue
            fseen.add(v)
            kind = "link" if d.get("kind") == "link" else "child"
            pred[v] = (u, kind, d.get("link_type") if kind == "link" else None)
            queue.append(v)
            if (G.nodes[v]["end"], v) > (G.nodes[best]["end"], best):
                best = v
    tail: list[JourneyStep] = []
    n = best
    while n != node:
        p, how, lt = pred[n]
        tail.append(_step(G, n, how, lt))
        n = p
    steps.extend(reversed(tail))

    gaps: list[Gap] = []
    for prev, step in itertools.pairwise(steps):
        if step.via == "link":
            lt = step.link_type or "link"
            gaps.append(
                Gap(
                    cause=prev.node,
                    effect=step.node,
                    link_type=lt,
                    kind=GAP_KINDS.get(lt) or _structural_gap(G, prev.node, step.node),
                    duration=max(0, step.start - prev.end),
                )
            )
    latency = max(s.end for s in steps) - min(s.start for s in steps)
    waiting = min(latency, sum(g.duration for g in gaps))
    return Journey(
        steps=steps,
        focus=focus,
        latency=latency,
        busy=latency - waiting,
        waiting=waiting,
        gaps=gaps,
        dangling=list(dict.fromkeys(dangling)),
    )
