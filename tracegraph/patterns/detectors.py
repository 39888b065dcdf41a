"""The built-in detectors (DESIGN §4), in the order they run.

Each uses the link's ``link_type`` when the producer declared it, and the
structure when it did not (``link_type == "link"``):

========================  ===================================================
retry_chain               ``retry_previous`` links, or links between spans of
                          the same name and service in different traces.
workflow_chain            ``workflow_predecessor`` links, or untyped links
                          between non-messaging spans in different traces
                          forming a chain of >= 3 steps.
fan_out_fan_in            ``fanout_source`` links, or untyped links from a
                          later span to >= 2 parallel siblings.
batch_fan_in              a span linking spans in >= 2 other traces, with its
                          descendants that each link an origin (per-item spans).
trigger                   every other single link of a trigger type
                          (``async_trigger``, ``scheduled_trigger``,
                          ``event_source``), or an untyped link held by a
                          CONSUMER span or pointing at a PRODUCER span.
========================  ===================================================

Retry first: a retry chain also looks like a chain. Workflow before batch: the
last step of a saga links every earlier step, which also looks like a batch.
Triggers last, over the links nobody explained.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

import networkx as nx

from tracegraph.domain.records import SpanKind, StatusCode
from tracegraph.graphs.build import NodeKey
from tracegraph.graphs.metrics import declared_delay, delay_stats, format_duration
from tracegraph.patterns.base import DetectionContext, Finding, LinkEdge, detector

__all__ = [
    "TRIGGER_KINDS",
    "batch_fan_in",
    "fan_out_fan_in",
    "retry_chains",
    "triggers",
    "workflow_chains",
]

UNKNOWN = "link"
#: Finding kind per trigger link type.
TRIGGER_KINDS = {
    "async_trigger": "async_trigger",
    "scheduled_trigger": "scheduled_trigger",
    "event_source": "event_trigger",
}
_NOT_BATCH = {"retry_previous", "workflow_predecessor", "fanout_source"}
_OUTCOME = {StatusCode.ERROR: "error", StatusCode.OK: "ok", StatusCode.UNSET: "unset"}


def _traces(spans: Iterable[NodeKey]) -> list[str]:
    return list(dict.fromkeys(n[0] for n in spans))


def _names(ctx: DetectionContext, nodes: list[NodeKey], limit: int = 6) -> str:
    names = [ctx.node(n)["name"] or "?" for n in nodes]
    if len(names) > limit:
        names = [*names[: limit - 1], "...", names[-1]]
    return " -> ".join(names)


def _delay(ctx: DetectionContext, e: LinkEdge) -> int | None:
    """Measured delay of a link edge, else the one its attributes declare."""
    delay = e[3].get("delay")
    if delay is None:
        delay = declared_delay(e[3].get("attributes") or {})
    return delay  # type: ignore[no-any-return]


def _start_key(ctx: DetectionContext, n: NodeKey) -> tuple[int, NodeKey]:
    start = ctx.node(n)["start"]
    return (start if start is not None else -1, n)


def _components(edges: list[LinkEdge]) -> list[tuple[nx.DiGraph, list[LinkEdge]]]:
    """Weakly connected components of the edges, each as a DiGraph with its edges."""
    root: dict[NodeKey, NodeKey] = {}

    def find(n: NodeKey) -> NodeKey:
        while root.setdefault(n, n) != n:
            root[n] = root[root[n]]  # path halving
            n = root[n]
        return n

    for e in edges:
        a, b = find(e[0]), find(e[1])
        if a != b:
            root[a] = b
    by_comp: dict[NodeKey, list[LinkEdge]] = defaultdict(list)
    for e in edges:
        by_comp[find(e[0])].append(e)
    return [(nx.DiGraph([(e[0], e[1]) for e in comp]), comp) for comp in by_comp.values()]


def _order(ctx: DetectionContext, D: nx.DiGraph) -> list[NodeKey]:
    """Causal order: topological, ties by start time; by start time if cyclic."""
    if len(D) == 2 and D.number_of_edges() == 1:
        return list(next(iter(D.edges)))
    try:
        return list(nx.lexicographical_topological_sort(D, key=lambda n: _start_key(ctx, n)))
    except nx.NetworkXUnfeasible:
        return sorted(D, key=lambda n: _start_key(ctx, n))


# --------------------------------------------------------------------------- retry


@detector("retry_chain")
def retry_chains(G: nx.MultiDiGraph, ctx: DetectionContext) -> list[Finding]:
    """Attempts each linking the previous one: count, outcomes, backoffs.

    >>> from tracegraph.graphs.build import build_graph
    >>> from tracegraph.domain.records import LinkRecord, SpanRecord
    >>> t = ["%032x" % i for i in (1, 2)]
    >>> lk = LinkRecord(t[1], "b" * 16, 0, t[0], "a" * 16, link_type="retry_previous")
    >>> G = build_graph([SpanRecord(t[0], "a" * 16, "pay", 0, 10, status_code=2),
    ...                  SpanRecord(t[1], "b" * 16, "pay", 210, 220, status_code=1, links=(lk,))])
    >>> retry_chains(G, DetectionContext(G))[0].summary
    'pay took 2 attempts (1 failed), final ok, backoff 200 ns'
    """
    edges = []
    for e in ctx.unclaimed():
        lt = e[3].get("link_type")
        if lt == "retry_previous":
            edges.append(e)
        elif lt == UNKNOWN and e[0][0] != e[1][0]:  # typed links are not looked into
            cause, effect = ctx.node(e[0]), ctx.node(e[1])
            if (
                not cause["ghost"]
                and not effect["ghost"]
                and cause["name"] == effect["name"]
                and cause["service"] == effect["service"]
            ):
                edges.append(e)
    findings = []
    for D, comp_edges in _components(edges):
        attempts = _order(ctx, D)
        rows = []
        for i, n in enumerate(attempts, start=1):
            data = ctx.node(n)
            outcome = "unknown" if data["ghost"] else _OUTCOME.get(data["status"], "unset")
            rows.append(
                {
                    "span": n,
                    "attempt": i,
                    "name": data["name"],
                    "status": data["status"],
                    "outcome": outcome,
                    "start": data["start"],
                    "end": data["end"],
                }
            )
        backoffs: list[int | None] = []
        for prev, nxt in itertools.pairwise(rows):
            if prev["end"] is None or nxt["start"] is None:
                backoffs.append(None)
            else:
                backoffs.append(nxt["start"] - prev["end"])
        failed = sum(1 for r in rows if r["outcome"] == "error")
        final = rows[-1]["outcome"]
        name = next((r["name"] for r in rows if r["name"]), "?")
        summary = f"{name} took {len(rows)} attempts ({failed} failed), final {final}"
        if backoffs:
            summary += ", backoff " + ", ".join(format_duration(b) for b in backoffs)
        findings.append(
            Finding(
                kind="retry_chain",
                spans=attempts,
                traces=_traces(attempts),
                summary=summary,
                details={
                    "attempts": rows,
                    "attempt_count": len(rows),
                    "failed": failed,
                    "final_outcome": final,
                    "succeeded": final != "error",
                    "backoffs": backoffs,
                    "declared": all(e[3].get("link_type") != UNKNOWN for e in comp_edges),
                },
                links=ctx.claim(comp_edges),
            )
        )
    return findings


# ------------------------------------------------------------------------ workflow


def _messaging(ctx: DetectionContext, e: LinkEdge) -> bool:
    return bool(
        ctx.node(e[1])["kind"] == SpanKind.CONSUMER or ctx.node(e[0])["kind"] == SpanKind.PRODUCER
    )


@detector("workflow_chain")
def workflow_chains(G: nx.MultiDiGraph, ctx: DetectionContext) -> list[Finding]:
    """Steps in separate traces linking earlier steps; the chain is the transitive reduction.

    >>> from tracegraph.graphs.build import build_graph
    >>> from tracegraph.domain.records import LinkRecord, SpanRecord
    >>> t = ["%032x" % i for i in (1, 2, 3)]
    >>> s = ["%016x" % i for i in (1, 2, 3)]
    >>> def link(i, j, k):
    ...     return LinkRecord(t[i], s[i], k, t[j], s[j], link_type="workflow_predecessor")
    >>> G = build_graph([SpanRecord(t[0], s[0], "validate", 0, 10),
    ...                  SpanRecord(t[1], s[1], "reserve", 15, 20, links=(link(1, 0, 0),)),
    ...                  SpanRecord(t[2], s[2], "ship", 30, 40,
    ...                             links=(link(2, 0, 0), link(2, 1, 1)))])
    >>> f = workflow_chains(G, DetectionContext(G))[0]
    >>> f.summary
    'workflow of 3 steps: validate -> reserve -> ship, 40 ns end to end, max step gap 10 ns'
    >>> len(f.links), f.details["chain"] == [(s0, s1) for s0, s1 in zip(f.spans, f.spans[1:])]
    (3, True)
    """
    edges = []
    for e in ctx.unclaimed():
        lt = e[3].get("link_type")
        if e[0][0] == e[1][0]:
            continue
        if lt == "workflow_predecessor" or (
            lt == UNKNOWN
            and not ctx.node(e[0])["ghost"]
            and not ctx.node(e[1])["ghost"]
            and not _messaging(ctx, e)
        ):
            edges.append(e)
    findings = []
    for D, comp_edges in _components(edges):
        if not nx.is_directed_acyclic_graph(D):
            continue
        declared = any(e[3].get("link_type") == "workflow_predecessor" for e in comp_edges)
        R = D if len(D) == 2 else nx.transitive_reduction(D)
        longest = nx.dag_longest_path_length(R)
        if not (declared or longest >= 2):
            continue
        steps = _order(ctx, R)
        chain = [(u, v) for u in steps for v in sorted(R.successors(u), key=steps.index)]
        gaps = []
        for u, v in chain:
            su, sv = ctx.node(u), ctx.node(v)
            gap = None if su["end"] is None or sv["start"] is None else sv["start"] - su["end"]
            gaps.append({"from": u, "to": v, "gap": gap})
        starts = [ctx.node(n)["start"] for n in steps if ctx.node(n)["start"] is not None]
        ends = [ctx.node(n)["end"] for n in steps if ctx.node(n)["end"] is not None]
        total = max(ends) - min(starts) if starts and ends else None
        known = [g["gap"] for g in gaps if g["gap"] is not None]
        is_path = all(R.out_degree(n) <= 1 and R.in_degree(n) <= 1 for n in R)
        summary = f"workflow of {len(steps)} steps: {_names(ctx, steps)}"
        if not is_path:
            summary = f"workflow of {len(steps)} steps in {len(chain)} dependencies"
        if total is not None:
            summary += f", {format_duration(total)} end to end"
        if known:
            summary += f", max step gap {format_duration(max(known))}"
        findings.append(
            Finding(
                kind="workflow_chain",
                spans=steps,
                traces=_traces(steps),
                summary=summary,
                details={
                    "chain": chain,
                    "is_path": is_path,
                    "step_gaps": gaps,
                    "gap_stats": delay_stats(known),
                    "duration": total,
                    "redundant_links": len(comp_edges) - len(chain),
                    "declared": declared,
                },
                links=ctx.claim(comp_edges),
            )
        )
    return findings


# ----------------------------------------------------------------- fan-out / fan-in


@detector("fan_out_fan_in")
def fan_out_fan_in(G: nx.MultiDiGraph, ctx: DetectionContext) -> list[Finding]:
    """A span whose children run in parallel, and a later span linking >= 2 of them.

    >>> from tracegraph.graphs.build import build_graph
    >>> from tracegraph.domain.records import LinkRecord, SpanRecord
    >>> t = "1" * 32
    >>> links = tuple(LinkRecord(t, "f" * 16, i, t, f"{i + 2:016x}") for i in range(2))
    >>> G = build_graph([SpanRecord(t, f"{1:016x}", "search", 0, 100),
    ...                  SpanRecord(t, f"{2:016x}", "src.a", 5, 50, parent_span_id=f"{1:016x}"),
    ...                  SpanRecord(t, f"{3:016x}", "src.b", 6, 40, parent_span_id=f"{1:016x}"),
    ...                  SpanRecord(t, "f" * 16, "merge", 55, 90, parent_span_id=f"{1:016x}",
    ...                             links=links)])
    >>> fan_out_fan_in(G, DetectionContext(G))[0].summary
    'merge fans in 2 parallel calls of search (src.a, src.b), slowest 45 ns, merge waited 5 ns'
    """
    findings = []
    # A fan-in holds at least two links; most holders hold one.
    holders = [h for h, held in ctx.held.items() if len(held) >= 2]
    for holder in sorted(holders, key=lambda n: _start_key(ctx, n)):
        hdata = ctx.node(holder)
        if hdata["ghost"]:
            continue
        groups: dict[NodeKey | None, list[LinkEdge]] = defaultdict(list)
        for e in ctx.unclaimed(ctx.held[holder]):
            lt = e[3].get("link_type")
            if lt not in ("fanout_source", UNKNOWN) or ctx.node(e[0])["ghost"]:
                continue
            groups[ctx.parent(e[0])].append(e)
        for parent, edges in groups.items():
            causes = sorted({e[0] for e in edges}, key=lambda n: _start_key(ctx, n))
            declared = all(e[3].get("link_type") == "fanout_source" for e in edges)
            if len(causes) < 2 or (parent is None and not declared):
                continue
            starts = [ctx.node(c)["start"] for c in causes]
            ends = [ctx.node(c)["end"] for c in causes]
            parallel = _overlapping(list(zip(starts, ends, strict=True)))
            if not declared and (not parallel or hdata["start"] < max(starts)):
                continue
            pname = ctx.node(parent)["name"] if parent is not None else "?"
            slowest = max(e - s for s, e in zip(starts, ends, strict=True))
            wait = hdata["start"] - max(ends)
            names = ", ".join(dict.fromkeys(ctx.node(c)["name"] for c in causes))
            spans = ([parent] if parent is not None else []) + causes + [holder]
            findings.append(
                Finding(
                    kind="fan_out_fan_in",
                    spans=spans,
                    traces=_traces(spans),
                    summary=(
                        f"{hdata['name']} fans in {len(causes)} parallel calls of {pname}"
                        f" ({names}), slowest {format_duration(slowest)},"
                        f" merge waited {format_duration(wait)}"
                    ),
                    details={
                        "fan_out": parent,
                        "fan_in": holder,
                        "branches": causes,
                        "parallel": parallel,
                        "slowest": slowest,
                        "fan_in_wait": wait,
                        "failed_branches": sum(
                            1 for c in causes if ctx.node(c)["status"] == StatusCode.ERROR
                        ),
                        "declared": declared,
                    },
                    links=ctx.claim(edges),
                )
            )
    return findings


def _overlapping(intervals: list[tuple[int, int]]) -> bool:
    """True if at least two intervals overlap in time."""
    ordered = sorted(intervals)
    return any(b[0] < a[1] for a, b in itertools.pairwise(ordered))


# --------------------------------------------------------------------------- batch


@detector("batch_fan_in")
def batch_fan_in(G: nx.MultiDiGraph, ctx: DetectionContext) -> list[Finding]:
    """A span linking spans in >= 2 other traces, with its per-item descendants.

    An item is a descendant of the batch span whose links all point at spans
    the batch span links too (when the batch lost links to the cap, any
    ``batch_source`` link counts).

    >>> from tracegraph.graphs.build import build_graph
    >>> from tracegraph.domain.records import LinkRecord, SpanRecord
    >>> t = ["%032x" % i for i in range(1, 4)]
    >>> origins = [SpanRecord(t[i], "a" * 16, "order.create", 0, 10**9) for i in (1, 2)]
    >>> links = tuple(LinkRecord(t[0], "b" * 16, i, t[i + 1], "a" * 16) for i in range(2))
    >>> batch = SpanRecord(t[0], "b" * 16, "batch.process", 2 * 10**9, 3 * 10**9, links=links)
    >>> G = build_graph([*origins, batch])
    >>> batch_fan_in(G, DetectionContext(G))[0].summary
    'batch.process links 2 producer traces, p50 queue delay 1 s'
    """
    candidates = []
    for holder, held in ctx.held.items():
        if len(held) < 2 or ctx.node(holder)["ghost"]:  # links to two traces at least
            continue
        edges = [e for e in ctx.unclaimed(held) if e[3].get("link_type") not in _NOT_BATCH]
        others = {e[0][0] for e in edges} - {holder[0]}
        if len(others) >= 2:
            candidates.append((holder, edges))
    # Biggest first, so a batch span takes its items before they are considered.
    candidates.sort(key=lambda he: (-len(he[1]), _start_key(ctx, he[0])))
    findings = []
    taken: set[NodeKey] = set()
    for holder, edges in candidates:
        if holder in taken:
            continue
        edges = ctx.unclaimed(edges)
        if len({e[0][0] for e in edges} - {holder[0]}) < 2:
            continue
        taken.add(holder)
        items: list[NodeKey] = []
        item_edges: list[LinkEdge] = []
        # Per-item spans: descendants whose links all point at origins the
        # batch links too (or, when the batch lost links, are batch_source).
        linked = {e[0] for e in edges}
        truncated = holder in ctx.dropped
        descendants = [n for n in ctx.held_in_trace[holder[0]] if holder in ctx.ancestors(n)]
        for n in sorted(descendants, key=lambda n: _start_key(ctx, n)):
            own = ctx.unclaimed(ctx.held.get(n, ()))
            if own and all(
                e[0] in linked or (truncated and e[3].get("link_type") == "batch_source")
                for e in own
            ):
                items.append(n)
                item_edges.extend(own)
                taken.add(n)
        hdata = ctx.node(holder)
        delays = [d for d in (_delay(ctx, e) for e in edges) if d is not None]
        stats = delay_stats(delays)
        sources = list(dict.fromkeys(e[0] for e in [*edges, *item_edges]))
        source_traces = [t for t in _traces(sources) if t != holder[0]]
        dropped = ctx.dropped.get(holder, 0)
        types: dict[str, int] = defaultdict(int)
        for e in edges:
            types[e[3].get("link_type", UNKNOWN)] += 1
        summary = f"{hdata['name']} links {len(source_traces)} producer traces"
        if stats["p50"] is not None:
            summary += f", p50 queue delay {format_duration(stats['p50'])}"
        if items:
            summary += f", {len(items)} item spans"
        if dropped:
            summary += f", {dropped} links dropped (truncated)"
        elif truncated:
            summary += ", links truncated"
        spans = [*sources, holder, *items]
        findings.append(
            Finding(
                kind="batch_fan_in",
                spans=spans,
                traces=_traces(spans),
                summary=summary,
                details={
                    "batch": holder,
                    "sources": sources,
                    "source_traces": source_traces,
                    "batch_links": len(edges),
                    "items": items,
                    "failed_items": sum(
                        1 for n in items if ctx.node(n)["status"] == StatusCode.ERROR
                    ),
                    "queue_delay": stats,
                    "link_types": dict(sorted(types.items())),
                    "truncated": truncated,
                    "dropped_links": dropped,
                    "ghost_sources": sum(1 for s in sources if ctx.node(s)["ghost"]),
                },
                links=ctx.claim([*edges, *item_edges]),
            )
        )
    return findings


# ------------------------------------------------------------------------ triggers


def _trigger_kind(ctx: DetectionContext, e: LinkEdge) -> str | None:
    lt = e[3].get("link_type", UNKNOWN)
    if lt in TRIGGER_KINDS:
        return TRIGGER_KINDS[lt]
    if lt == UNKNOWN:
        if ctx.node(e[0])["ghost"] or ctx.node(e[1])["ghost"]:
            return None
        return "async_trigger" if _messaging(ctx, e) else None
    # Custom link types (the guide's "async_job_source"): read the word.
    low = lt.lower()
    if "schedul" in low or "cron" in low:
        return "scheduled_trigger"
    if "event" in low:
        return "event_trigger"
    if any(w in low for w in ("async", "queue", "job", "message", "trigger")):
        return "async_trigger"
    return None


_LABEL = {"async_trigger": "async", "scheduled_trigger": "scheduled", "event_trigger": "event"}


@detector("trigger")
def triggers(G: nx.MultiDiGraph, ctx: DetectionContext) -> list[Finding]:
    """One consumer span linking one producer span; grouped by names with delay stats.

    >>> from tracegraph.graphs.build import build_graph
    >>> from tracegraph.domain.records import LinkRecord, SpanRecord, SpanKind
    >>> t = ["%032x" % i for i in range(1, 4)]
    >>> spans = [SpanRecord(t[0], "a" * 16, "job.enqueue", 0, 10, kind=SpanKind.PRODUCER)]
    >>> for i, start in ((1, 20), (2, 40)):
    ...     link = LinkRecord(t[i], "b" * 16, 0, t[0], "a" * 16)
    ...     spans.append(SpanRecord(t[i], "b" * 16, "job.execute", start, start + 5,
    ...                             kind=SpanKind.CONSUMER, links=(link,)))
    >>> G = build_graph(spans)
    >>> triggers(G, DetectionContext(G))[0].summary
    '2 job.execute spans triggered by job.enqueue (async), p50 delay 10 ns, max 30 ns'
    """
    groups: dict[tuple[str, str, str], list[LinkEdge]] = defaultdict(list)
    for e in ctx.unclaimed():
        kind = _trigger_kind(ctx, e)
        if kind is not None:
            groups[(kind, ctx.node(e[0])["name"], ctx.node(e[1])["name"])].append(e)
    findings = []
    for (kind, cause_name, effect_name), edges in sorted(
        groups.items(), key=lambda kv: _start_key(ctx, kv[1][0][1])
    ):
        cause_name = cause_name or "a span not loaded"
        delays = [d for d in (_delay(ctx, e) for e in edges) if d is not None]
        stats = delay_stats(delays)
        label = _LABEL[kind]
        if len(edges) == 1 and stats["p50"] is not None:
            summary = f"{effect_name} ran {format_duration(stats['p50'])} after {cause_name}"
            summary += f" ({label})"
        elif len(edges) == 1:
            summary = f"{effect_name} was triggered by {cause_name} ({label})"
        else:
            summary = f"{len(edges)} {effect_name} spans triggered by {cause_name} ({label})"
            if stats["count"]:
                summary += (
                    f", p50 delay {format_duration(stats['p50'])},"
                    f" max {format_duration(stats['max'])}"
                )
        spans = list(dict.fromkeys(n for e in edges for n in (e[0], e[1])))
        declared = [
            d
            for d in (declared_delay(e[3].get("attributes") or {}) for e in edges)
            if d is not None
        ]
        details: dict[str, Any] = {
            "trigger": label,
            "count": len(edges),
            "pairs": [(e[0], e[1]) for e in edges],
            "delay": stats,
            "declared_delay": delay_stats(declared),
            "link_types": sorted({e[3].get("link_type", UNKNOWN) for e in edges}),
        }
        findings.append(
            Finding(
                kind=kind,
                spans=spans,
                traces=_traces(spans),
                summary=summary,
                details=details,
                links=ctx.claim(edges),
            )
        )
    return findings
