"""Link metrics: delays per link, their percentiles, counts per link type.

The delay of a link is ``effect.start - cause.end`` in nanoseconds: the time
the message waited in a queue, the schedule delay, the retry backoff, the gap
between two workflow steps. :func:`build_graph` stores it on each link edge
as ``delay`` when both ends are loaded. When the cause is a ghost, the delay
the producer declared in a link attribute (``link.queue.delay_ms`` and
friends, :data:`DECLARED_DELAY_KEYS`) is used instead, if any.

Percentiles are **nearest-rank**: the p-th percentile of ``n`` sorted values
is the value at rank ``ceil(p / 100 * n)`` (1-based). It is always one of the
observed values, never interpolated, so "p95 queue delay 1.2 s" names a real
message. ``p50`` of ``[1, 2, 3, 4]`` is ``2``.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable
from typing import Any, Literal, TypedDict

import networkx as nx

from tracegraph.graphs.build import NodeKey, link_edges

__all__ = [
    "DECLARED_DELAY_KEYS",
    "DelayStats",
    "LinkDelay",
    "declared_delay",
    "delay_stats",
    "delays_by",
    "format_duration",
    "link_delays",
    "link_type_counts",
    "percentile",
]

#: Link attributes (milliseconds) read as the link's delay when it cannot be
#: measured, in order of preference.
DECLARED_DELAY_KEYS = (
    "link.queue.delay_ms",
    "link.queue_delay_ms",
    "link.delay_ms",
    "link.gap_ms",
    "workflow.step_gap_ms",
    "job.queue_time_ms",
)
_DECLARED = frozenset(DECLARED_DELAY_KEYS)


class DelayStats(TypedDict):
    """``count`` values; ``p50``, ``p95``, ``max`` in ns, ``None`` when empty."""

    count: int
    p50: int | None
    p95: int | None
    max: int | None


class LinkDelay(TypedDict):
    """One link edge's delay, with what it is grouped by."""

    cause: NodeKey
    effect: NodeKey
    link_type: str
    consumer: str
    delay: int
    declared: bool


def percentile(ordered: list[int], p: float) -> int:
    """Nearest-rank percentile of an already sorted, non-empty list.

    >>> percentile([1, 2, 3, 4], 50), percentile([1, 2, 3, 4], 95), percentile([7], 1)
    (2, 4, 7)
    """
    if not ordered:
        raise ValueError("percentile of no values")
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def delay_stats(values: Iterable[int | float]) -> DelayStats:
    """Return ``{count, p50, p95, max}`` of ``values`` (nearest-rank).

    Examples
    --------
    >>> delay_stats([30, 10, 20, 40])
    {'count': 4, 'p50': 20, 'p95': 40, 'max': 40}
    >>> delay_stats([])
    {'count': 0, 'p50': None, 'p95': None, 'max': None}
    """
    ordered = sorted(int(v) for v in values)
    if not ordered:
        return {"count": 0, "p50": None, "p95": None, "max": None}
    return {
        "count": len(ordered),
        "p50": percentile(ordered, 50),
        "p95": percentile(ordered, 95),
        "max": ordered[-1],
    }


def declared_delay(attributes: dict[str, Any]) -> int | None:
    """The delay a link declares in its attributes, in ns, or ``None``.

    >>> declared_delay({"link.queue.delay_ms": 1500})
    1500000000
    >>> declared_delay({"link.queue.delay_ms": "soon"}) is None
    True
    """
    if _DECLARED.isdisjoint(attributes):  # most links: one set operation, not six lookups
        return None
    for key in DECLARED_DELAY_KEYS:
        value = attributes.get(key)
        if value is None or isinstance(value, bool):
            continue
        if isinstance(value, int | float) and math.isfinite(value):
            return int(value * 1_000_000)
    return None


def link_delays(G: nx.MultiDiGraph, *, declared: bool = True) -> list[LinkDelay]:
    """Return the delay of every link edge whose delay is known.

    Parameters
    ----------
    G : networkx.MultiDiGraph
        A graph from :func:`~tracegraph.graphs.build.build_graph`.
    declared : bool, default True
        Fall back to the delay declared in the link's attributes when the
        edge's measured ``delay`` is ``None`` (cause or effect not loaded).

    Examples
    --------
    >>> G = nx.MultiDiGraph()
    >>> G.add_node("c", name="consume")
    >>> _ = G.add_edge("p", "c", kind="link", link_type="async_trigger", delay=5, attributes={})
    >>> [(d["consumer"], d["delay"]) for d in link_delays(G)]
    [('consume', 5)]
    """
    out: list[LinkDelay] = []
    nodes = G.nodes
    for u, v, _, data in link_edges(G):
        delay = data.get("delay")
        is_declared = False
        if delay is None and declared:
            delay = declared_delay(data.get("attributes") or {})
            is_declared = delay is not None
        if delay is None:
            continue
        out.append(
            {
                "cause": u,
                "effect": v,
                "link_type": data.get("link_type", "link"),
                "consumer": nodes[v].get("name", ""),
                "delay": delay,
                "declared": is_declared,
            }
        )
    return out


def delays_by(
    G: nx.MultiDiGraph,
    *,
    by: Literal["link_type", "consumer"] = "link_type",
    declared: bool = True,
) -> dict[str, DelayStats]:
    """Return delay stats grouped per link type or per consumer span name.

    The consumer is the span holding the link (the effect).

    Examples
    --------
    >>> G = nx.MultiDiGraph()
    >>> G.add_node("c", name="consume")
    >>> for d in (10, 20, 30):
    ...     _ = G.add_edge("p", "c", kind="link", link_type="async_trigger", delay=d)
    >>> delays_by(G)["async_trigger"]
    {'count': 3, 'p50': 20, 'p95': 30, 'max': 30}
    >>> list(delays_by(G, by="consumer"))
    ['consume']
    """
    if by not in ("link_type", "consumer"):
        raise ValueError(f"by must be 'link_type' or 'consumer', not {by!r}")
    groups: dict[str, list[int]] = defaultdict(list)
    for item in link_delays(G, declared=declared):
        groups[item[by]].append(item["delay"])
    return {name: delay_stats(values) for name, values in sorted(groups.items())}


def link_type_counts(
    G: nx.MultiDiGraph, *, links: list[tuple[Any, Any, int, dict[str, Any]]] | None = None
) -> dict[str, int]:
    """Return the number of link edges per ``link_type``.

    ``links`` is ``link_edges(G)`` when the caller has it already.

    >>> G = nx.MultiDiGraph()
    >>> _ = G.add_edge("a", "b", kind="link", link_type="batch_source")
    >>> link_type_counts(G)
    {'batch_source': 1}
    """
    edges = link_edges(G) if links is None else links
    counts = Counter(d.get("link_type", "link") for _, _, _, d in edges)
    return dict(sorted(counts.items()))


#: (threshold, divisor, unit): days only from 48 h on, so "24 h" reads as such.
_UNITS = (
    (172_800_000_000_000, 86_400_000_000_000, "d"),
    (3_600_000_000_000, 3_600_000_000_000, "h"),
    (60_000_000_000, 60_000_000_000, "min"),
    (1_000_000_000, 1_000_000_000, "s"),
    (1_000_000, 1_000_000, "ms"),
    (1_000, 1_000, "µs"),
)


def format_duration(ns: int | float | None) -> str:
    """Return a short human duration: ``1.2 s``, ``350 ms``, ``24 h``.

    >>> format_duration(1_234_000_000), format_duration(350_000_000)
    ('1.2 s', '350 ms')
    >>> format_duration(86_400 * 10**9)
    '24 h'
    >>> format_duration(3 * 86_400 * 10**9), format_duration(-2_000_000), format_duration(None)
    ('3 d', '-2 ms', '?')
    """
    if ns is None:
        return "?"
    sign = "-" if ns < 0 else ""
    value = abs(ns)
    for threshold, size, unit in _UNITS:
        if value >= threshold:
            amount = value / size
            text = f"{amount:.1f}" if amount < 10 else f"{amount:.0f}"
            return f"{sign}{text.removesuffix('.0')} {unit}"
    return f"{sign}{int(value)} ns"
