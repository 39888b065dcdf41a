"""Plotly figures of the cross-trace diagram, as plain dicts (DESIGN §6).

The page hands ``figure`` to ``Plotly.react`` as is. It is built as a dict,
not a ``plotly.graph_objects.Figure``: the graph objects validate every
value on assignment, which at 100,000 spans takes seconds (measured: about
40x the time of building the dict), while the dict is exactly the JSON the
browser needs. Keys are the plotly.js schema's.

One WebGL trace (``scattergl``) per class of thing, never one per span:

============  ===============================================================
``bands``     separators between trace bands (timeline only)
``children``  parent -> child edges, one polyline with ``None`` separators
``link:<t>``  link edges of link type ``t``, cause -> effect, one polyline
              per type, a dot at the effect end, coloured by :data:`LINK_COLOURS`
``bars``      span durations (timeline), one polyline; ``error bars`` likewise
``spans``     one clickable marker per span (hover text, click target)
``failed``    the failed spans' markers again, in red, on top (span level)
``ghosts``    link targets that are not stored
``highlight`` / ``selected``  empty; the page fills them on a finding or a click
============  ===============================================================

What the page can derive from the span markers is not sent twice: at span
level the ``children``, ``bars`` and ``failed`` traces come with empty
``x``/``y`` and ``meta.derive`` (``elbows``, ``lines``, ``bars``,
``failed``), the spans trace with ``meta.dur`` (ns), ``meta.failed`` (the
points of failed spans), ``meta.parent`` (the point of each point's parent,
-1 for none) and its hover texts as ``meta.labels``/``meta.label``;
``static/js/graph.js`` (``deriveFigure``) builds the polylines, the red
markers and the texts before drawing. At 100,000 spans that is 11 of the
figure's 17 MB.

Every name shown in a hover text or a label goes through :func:`escape_text`:
plotly renders ``<br>``, ``<b>``, ``<a>``... in those strings, so a span called
``<img src=x onerror=...>`` must arrive as ``&lt;img ...``.

>>> nodes = [
...     {"id": "t:a", "trace_id": "t", "span_id": "a", "parent": "", "name": "<b>x</b>",
...      "service": "s", "start": 0, "end": 2_000_000, "status": 2},
...     {"id": "t:b", "trace_id": "t", "span_id": "b", "parent": "a", "name": "y",
...      "service": "s", "start": 1_000_000, "end": 1_500_000, "status": 0},
... ]
>>> edges = [{"source": "t:a", "target": "t:b", "kind": "child"}]
>>> d = diagram(nodes, edges, level="span", layout="timeline")
>>> ",".join(t["name"] for t in d.figure["data"])
'bands,parent → child,durations,errors,spans,failed spans,not stored,highlight,selected'
>>> spans = d.figure["data"][4]
>>> spans["x"], spans["meta"]["dur"], spans["meta"]["parent"], spans["meta"]["failed"]
([0.0, 1.0], [2000000, 500000], [-1, 0], [0])
>>> spans["meta"]["labels"][spans["meta"]["label"][0]]
's · &lt;b&gt;x&lt;/b&gt;'
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from tracegraph.render.layout import Layout, Pair, dag_layout, edge_pairs, timeline_layout

__all__ = [
    "LINK_COLOURS",
    "PALETTE",
    "Diagram",
    "diagram",
    "diagram_of",
    "escape_text",
    "format_ns",
    "link_colour",
]

#: One colour per link type, everywhere (legend, arrows, badges: the CSS
#: classes ``.lt-<type>`` in static/css/tracegraph.css use the same values;
#: a test holds them equal). Chosen to stay distinct on the dark background.
LINK_COLOURS: dict[str, str] = {
    "batch_source": "#f2b84b",
    "async_trigger": "#4fb3ff",
    "retry_previous": "#f472b6",
    "fanout_source": "#58c98b",
    "workflow_predecessor": "#a78bfa",
    "event_source": "#2dd4bf",
    "scheduled_trigger": "#fb923c",
    "link": "#94a3b8",
}

#: The page's colours (match the CSS custom properties).
PALETTE = {
    "bg": "#0f1419",
    "panel": "#161c23",
    "line": "#26303b",
    "text": "#d9e1e8",
    "muted": "#8a98a8",
    "bar": "#3d8bd9",
    "marker": "#9fd3ff",
    "error": "#ff6b6b",
    "ghost": "#f2b84b",
    "child": "#4a5968",
    "select": "#ffffff",
    "highlight": "#ffe066",
}

Level = Literal["span", "trace", "service"]
LayoutName = Literal["timeline", "dag"]

#: Plot height in px the bar width is sized for (the page is about this tall).
_PLOT_PX = 640.0

#: Above this many nodes the figure drops what costs frames and says little:
#: parent -> child elbows start hidden (legend toggles them), thinner link lines.
BIG = 5_000


def link_colour(link_type: str) -> str:
    """The colour of a link type; unknown types get the untyped-link grey.

    >>> link_colour("batch_source"), link_colour("made_up")
    ('#f2b84b', '#94a3b8')
    """
    return LINK_COLOURS.get(link_type, LINK_COLOURS["link"])


def escape_text(value: Any, *, limit: int = 160) -> str:
    """Text safe for plotly hover text and labels: ``& < >`` escaped, cut at ``limit``.

    >>> escape_text("<img src=x onerror=alert(1)> & co")
    '&lt;img src=x onerror=alert(1)&gt; &amp; co'
    >>> escape_text("x" * 10, limit=4)
    'xxx…'
    """
    text = str(value)
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def format_ns(ns: int | float | None) -> str:
    """A duration for people.

    >>> format_ns(1_500), format_ns(2_500_000), format_ns(62_914_000_000), format_ns(None)
    ('1.5 µs', '2.50 ms', '62.9 s', '?')
    """
    if ns is None:
        return "?"
    v = float(ns)
    sign = "-" if v < 0 else ""
    v = abs(v)
    if v < 1e3:
        return f"{sign}{v:.0f} ns"
    if v < 1e6:
        return f"{sign}{v / 1e3:.1f} µs"
    if v < 1e9:
        return f"{sign}{v / 1e6:.2f} ms"
    if v < 120e9:
        return f"{sign}{v / 1e9:.1f} s"
    if v < 3600e9:
        return f"{sign}{v / 60e9:.1f} min"
    return f"{sign}{v / 3600e9:.1f} h"


@dataclass(slots=True)
class Diagram:
    """A figure plus what the page needs to map clicks back to spans.

    ``clickable[role]`` (``spans``, ``ghosts``) describes the points of the trace with that role:
    ``t`` (index into ``traces``) and ``s`` (span id; ``""`` at trace level,
    the service name at service level), point by point. ``links[type]``
    lists ``[cause, effect]`` as ``[t, s]`` pairs, edge by edge (point
    ``i`` of that trace belongs to edge ``i // 3``).
    """

    figure: dict[str, Any]
    traces: list[str]
    clickable: dict[str, dict[str, list[Any]]] = field(default_factory=dict)
    links: dict[str, list[list[list[Any]]]] = field(default_factory=dict)
    rows: float = 0.0
    layout: str = "timeline"


def _axis(title: str = "", **extra: Any) -> dict[str, Any]:
    return {
        "title": {"text": title, "font": {"size": 12, "color": PALETTE["muted"]}},
        "gridcolor": PALETTE["line"],
        "zeroline": False,
        "color": PALETTE["muted"],
        # automargin measures the tick labels after a first draw, then draws
        # everything again: twice the WebGL work (measured: +0.5 s at 10,000
        # spans). The margins are fixed instead; the page fits the left one
        # to the widest band label before drawing (static/js/graph.js).
        "automargin": False,
        # Tick labels past the plot's edge are not measured one by one to be
        # hidden (a forced layout per label on every draw and pan: 60 ms of a
        # 100,000-span draw); the left margin already fits the band labels.
        "ticklabeloverflow": "allow",
        **extra,
    }


def _scatter(name: str, **extra: Any) -> dict[str, Any]:
    trace: dict[str, Any] = {"type": "scattergl", "name": name, "x": [], "y": []}
    trace.update(extra)
    return trace


def _node_id(d: Mapping[str, Any]) -> str:
    """The API id of a node: ``id``, or ``trace_id:span_id`` for a span graph's own node dict."""
    if "id" in d:
        return str(d["id"])
    return f"{d['trace_id']}:{d['span_id']}"


def _node_label(d: Mapping[str, Any], level: Level) -> str:
    if level == "trace":
        return f"{d.get('root_service') or '?'} · {d.get('root_name') or _node_id(d)}"
    if level == "service":
        return str(d.get("service") or _node_id(d))
    return f"{d.get('service') or '?'} · {d.get('name') or ''}"


def _hover(d: Mapping[str, Any], level: Level, unloaded: frozenset[str] = frozenset()) -> str:
    if d.get("ghost"):
        what = "trace" if level == "trace" else "span"
        if _trace_of(d) in unloaded:
            return f"not loaded (beyond the depth or a bound): {what} {escape_text(_node_id(d))}"
        return f"not stored: {what} {escape_text(_node_id(d), limit=60)}"
    label = escape_text(_node_label(d, level))
    if level == "service":
        return (
            f"{label}<br>{d.get('span_count', 0)} spans in {d.get('trace_count', 0)} traces"
            f" · {d.get('error_count', 0)} errors"
        )
    dur = format_ns(_duration(d))
    if level == "trace":
        return (
            f"{label}<br>{dur} · {d.get('span_count', 0)} spans · {d.get('error_count', 0)} errors"
        )
    return f"{label}<br>{dur}{' · ERROR' if d.get('status') == 2 else ''}"


def _duration(d: Mapping[str, Any]) -> int | None:
    start, end = d.get("start"), d.get("end")
    return int(end - start) if start is not None and end is not None else None


def _trace_of(d: Mapping[str, Any]) -> str:
    return str(d.get("trace_id") or _node_id(d))


def _is_error(d: Mapping[str, Any], level: Level) -> bool:
    if level == "span":
        return d.get("status") == 2
    return bool(d.get("error_count"))


def _edge_type(e: Mapping[str, Any]) -> str | None:
    """The link type an edge is drawn as; ``None`` for a parent -> child (or call) edge."""
    if e.get("kind") == "child":
        return None
    if "link_type" in e:
        return str(e["link_type"])
    types = e.get("link_types") or {}
    if types:
        return str(Counter(types).most_common(1)[0][0])
    return None if e.get("calls") else "link"


def _edge_hover(e: Mapping[str, Any], link_type: str) -> str:
    parts = [escape_text(link_type)]
    if e.get("count") or e.get("links"):
        parts.append(f"{e.get('count') or e.get('links')} links")
    types = e.get("link_types") or {}
    if len(types) > 1:
        parts.append(", ".join(f"{escape_text(k)} {v}" for k, v in sorted(types.items())))
    if e.get("delay") is not None:
        parts.append(f"delay {format_ns(e['delay'])}")
    elif e.get("delay_p50") is not None:
        parts.append(f"delay p50 {format_ns(e['delay_p50'])}")
    return " · ".join(parts)


def diagram(
    nodes: Sequence[Mapping[str, Any]],
    edges: Sequence[Mapping[str, Any]],
    *,
    level: Level = "span",
    layout: LayoutName = "timeline",
    unloaded: Iterable[str] = (),
) -> Diagram:
    """Build the figure for the graph API's ``nodes`` and ``edges`` at ``level``.

    The service level has no time axis and is always drawn as a ``dag``.
    ``unloaded`` names traces that are stored but outside the neighbourhood
    (the expansion's ``cut``): their ghost spans say "not loaded", the others
    "not stored".
    """
    return diagram_of(
        nodes, edge_pairs(nodes, edges), level=level, layout=layout, unloaded=unloaded
    )


def diagram_of(
    nodes: Sequence[Mapping[str, Any]],
    pairs: Sequence[Pair],
    *,
    level: Level = "span",
    layout: LayoutName = "timeline",
    unloaded: Iterable[str] = (),
) -> Diagram:
    """:func:`diagram` for edges given as ``(u, v, data)`` pairs of positions in ``nodes``.

    A span graph's own node and edge dicts can be drawn this way without
    turning them into the API's (:func:`tracegraph.graphs.export.span_elements`):
    at 100,000 spans that is a quarter of a second less.
    """
    if level == "service":
        layout = "dag"
    L = timeline_layout(nodes, pairs) if layout == "timeline" else dag_layout(nodes, pairs)
    return _build(nodes, pairs, L, level=level, unloaded=frozenset(unloaded))


def _key(d: Mapping[str, Any], level: Level, trace_index: dict[str, int]) -> list[Any]:
    if level == "span":
        return [trace_index[str(d["trace_id"])], str(d["span_id"])]
    if level == "trace":
        return [trace_index[_node_id(d)], ""]
    return [-1, _node_id(d)]


def _build(
    nodes: Sequence[Mapping[str, Any]],
    edges: Sequence[Pair],
    L: Layout,
    *,
    level: Level,
    unloaded: frozenset[str] = frozenset(),
) -> Diagram:
    timeline = L.kind == "timeline"
    traces: list[str] = []
    trace_index: dict[str, int] = {}
    # Per node, its trace: the loops below run once per span (100,000 at most).
    trace_of = [d.get("trace_id") or _node_id(d) for d in nodes]
    if level != "service":
        for i in L.order:
            t = trace_of[i]
            if t not in trace_index:
                trace_index[t] = len(traces)
                traces.append(t)
    x0, x1, y = L.x0, L.x1, L.y
    rows = max(L.rows + 1, 1.0)
    px = _PLOT_PX / rows
    bar_width = max(1.0, min(9.0, px * 0.55))
    marker_size = max(3.0, min(9.0, px * 0.7))

    data: list[dict[str, Any]] = []
    if timeline:
        right = max([*x1, 0.0]) or 1.0
        left = min([*x0, 0.0])
        bx: list[float | None] = []
        by: list[float | None] = []
        for band in L.bands[1:]:
            sep = band.y0 - 1.0
            bx += [left, right, None]
            by += [sep, sep, None]
        data.append(
            _scatter(
                "bands",
                x=bx,
                y=by,
                mode="lines",
                line={"color": PALETTE["line"], "width": 1, "dash": "dot"},
                hoverinfo="skip",
                showlegend=False,
            )
        )

    real = [i for i in L.order if not nodes[i].get("ghost")]
    ghosts = [i for i in L.order if nodes[i].get("ghost")]
    point = {i: k for k, i in enumerate(real)}  # node index -> point of the spans trace
    derived = level == "span"  # elbows, bars and hover texts built by the page

    # Parent -> child (and service-level call) edges: one polyline. At span
    # level the page draws it from each point's parent (``meta.parent``).
    cx: list[float | None] = []
    cy: list[float | None] = []
    parent_point = [-1] * len(real)
    by_type: dict[str, list[Pair]] = defaultdict(list)
    for u, v, e in edges:
        link_type = None if e.get("kind") == "child" else _edge_type(e)
        if link_type is not None:
            by_type[link_type].append((u, v, e))
        elif derived and u in point and v in point:
            parent_point[point[v]] = point[u]
        elif timeline:  # an elbow: down from the parent's row at the child's start
            cx += [x0[v], x0[v], None]
            cy += [y[u], y[v], None]
        else:
            cx += [x1[u], x0[v], None]
            cy += [y[u], y[v], None]
    big = len(nodes) > BIG
    children_meta: dict[str, Any] = {"role": "children"}
    if derived:
        children_meta["derive"] = "elbows" if timeline else "lines"
    data.append(
        _scatter(
            "parent → child" if level != "service" else "calls",
            x=cx,
            y=cy,
            mode="lines",
            line={"color": PALETTE["child"], "width": 1},
            hoverinfo="skip",
            # In a big timeline the rows already show the nesting; the elbows
            # only cost frames. A click on the legend brings them back.
            visible="legendonly" if big and timeline else True,
            meta=children_meta,
        )
    )

    links: dict[str, list[list[list[Any]]]] = {}
    for link_type in sorted(by_type):
        lx: list[float | None] = []
        ly: list[float | None] = []
        hover: list[str | None] = []
        sizes: list[float] = []
        pairs: list[list[list[Any]]] = []
        for u, v, e in by_type[link_type]:
            text = _edge_hover(e, link_type)
            lx += [x1[u], x0[v], None]
            ly += [y[u], y[v], None]
            hover += [text, text, None]
            sizes += [0.0, marker_size + 2, 0.0]
            pairs.append([_key(nodes[u], level, trace_index), _key(nodes[v], level, trace_index)])
        colour = link_colour(link_type)
        # The type names the legend entry, which plotly renders as HTML: a
        # custom link.type is text like any name (and the page's key for it).
        shown = escape_text(link_type)
        links[shown] = pairs
        data.append(
            _scatter(
                shown,
                x=lx,
                y=ly,
                mode="lines+markers",
                line={"color": colour, "width": 1 if big else 1.5},
                marker={"color": colour, "size": sizes, "symbol": "circle"},
                hovertext=hover,
                hoverinfo="text",
                meta={"role": "link", "link_type": shown},
                legendgroup="links",
            )
        )

    clickable: dict[str, dict[str, list[Any]]] = {}
    failed = [_is_error(nodes[i], level) for i in real]
    if timeline:
        # Drawn by the page from the spans' points and durations (``meta.dur``):
        # only the bars that show in the view, longest first (graph.js,
        # pickBars), so a big timeline keeps them at the cost of a small one.
        for name, colour, errors in (
            ("durations", PALETTE["bar"], False),
            ("errors", PALETTE["error"], True),
        ):
            data.append(
                _scatter(
                    name,
                    mode="lines",
                    line={"color": colour, "width": bar_width},
                    hoverinfo="skip",
                    legendgroup=name,
                    # At span level the red markers hold the legend entry: the
                    # page draws only the bars that show, maybe none.
                    showlegend=errors and any(failed) and not derived,
                    meta={"role": "bars", "derive": "bars", "errors": errors},
                )
            )
    marker: dict[str, Any] = {
        "color": PALETTE["marker"],
        "size": marker_size if timeline else 10,
        "symbol": "circle",
    }
    if any(failed) and not derived:
        # 0/1 through a two-colour scale: numbers, not colour strings to parse.
        # (At span level the failed spans are a red marker trace on top
        # instead: plotly turns every scale value into a colour string and
        # parses it back, 0.2 s at 100,000 spans.)
        marker["color"] = [1 if bad else 0 for bad in failed]
        marker.update(
            cmin=0,
            cmax=1,
            colorscale=[[0, PALETTE["marker"]], [1, PALETTE["error"]]],
            showscale=False,
        )
    show_text = len(real) <= 400
    spans_meta: dict[str, Any] = {"role": "spans"}
    if timeline or derived:
        spans_meta["dur"] = [_duration(nodes[i]) for i in real]
        spans_meta["failed"] = [k for k, bad in enumerate(failed) if bad]
    spans = _scatter(
        "spans" if level == "span" else ("traces" if level == "trace" else "services"),
        x=[x0[i] for i in real],
        y=[y[i] for i in real],
        mode="markers+text" if show_text and not timeline else "markers",
        marker=marker,
        hoverinfo="text",
        legendgroup="spans",
        meta=spans_meta,
    )
    if derived:
        # The page writes "<label><br><duration>[ · ERROR]" per point: the
        # labels repeat (service · name), so each is sent once.
        labels: dict[tuple[Any, Any], int] = {}  # (service, name) -> its index
        point_label: list[int] = []
        for i in real:
            d = nodes[i]
            raw = (d.get("service"), d.get("name"))
            k = labels.get(raw)
            if k is None:
                k = labels[raw] = len(labels)
            point_label.append(k)
        spans_meta["label"] = point_label
        spans_meta["labels"] = [
            escape_text(_node_label({"service": s, "name": n}, level)) for s, n in labels
        ]
        spans_meta["parent"] = parent_point
    else:
        spans["hovertext"] = [_hover(nodes[i], level) for i in real]
    if show_text and not timeline:
        spans["text"] = [escape_text(_node_label(nodes[i], level), limit=40) for i in real]
        spans["textposition"] = "top center"
        spans["textfont"] = {"color": PALETTE["text"], "size": 11}
    data.append(spans)
    if derived:
        data.append(
            _scatter(
                "failed spans",
                mode="markers",
                marker={**marker, "color": PALETTE["error"]},
                hoverinfo="skip",  # hover and clicks go to the span marker below
                legendgroup="errors",  # with the failed spans' bars
                showlegend=any(failed),
                meta={"role": "failed", "derive": "failed"},
            )
        )
    if level == "span":  # _key's answer, without a call per span
        clickable["spans"] = {
            "t": [trace_index[trace_of[i]] for i in real],
            "s": [str(nodes[i]["span_id"]) for i in real],
        }
    else:
        keys = [_key(nodes[i], level, trace_index) for i in real]
        clickable["spans"] = {"t": [k[0] for k in keys], "s": [k[1] for k in keys]}
    data.append(
        _scatter(
            "not loaded"
            if ghosts and all(trace_of[i] in unloaded for i in ghosts)
            else "not stored",
            x=[x0[i] for i in ghosts],
            y=[y[i] for i in ghosts],
            mode="markers",
            marker={
                "color": PALETTE["ghost"],
                "size": marker_size + 3,
                "symbol": "circle-open",
                "line": {"color": PALETTE["ghost"], "width": 2},
            },
            hovertext=[_hover(nodes[i], level, unloaded) for i in ghosts],
            hoverinfo="text",
            showlegend=bool(ghosts),
            legendrank=2000,
            meta={"role": "ghosts"},
        )
    )
    clickable["ghosts"] = {"t": [], "s": []}
    for i in ghosts:
        t, s = _key(nodes[i], level, trace_index)
        clickable["ghosts"]["t"].append(t)
        clickable["ghosts"]["s"].append(s)
    for name, colour in (("highlight", PALETTE["highlight"]), ("selected", PALETTE["select"])):
        data.append(
            _scatter(
                name,
                mode="markers",
                marker={
                    "color": colour,
                    "size": 16 if name == "selected" else 13,
                    "symbol": "circle-open",
                    "line": {"color": colour, "width": 3 if name == "selected" else 2},
                },
                hoverinfo="skip",
                showlegend=False,
                meta={"role": name},
            )
        )

    fig_layout: dict[str, Any] = {
        "paper_bgcolor": PALETTE["bg"],
        "plot_bgcolor": PALETTE["bg"],
        "font": {"color": PALETTE["text"], "size": 12},
        "margin": {"l": 10, "r": 10, "t": 36, "b": 48},
        "hovermode": "closest",
        "hoverlabel": {
            "bgcolor": PALETTE["panel"],
            "bordercolor": PALETTE["muted"],
            "font": {"color": PALETTE["text"], "size": 12},
        },
        "dragmode": "pan",
        "showlegend": True,
        "legend": {
            "orientation": "h",
            "x": 0,
            "y": 1.0,
            "yanchor": "bottom",
            "font": {"size": 11},
            "bgcolor": "rgba(0,0,0,0)",
        },
    }
    if timeline:
        origin = datetime.fromtimestamp(L.t0 / 1e9, tz=UTC).strftime("%Y-%m-%d %H:%M:%S")
        fig_layout["xaxis"] = _axis(f"ms since {origin} UTC")
        label_of: dict[str, str] = {}
        for i in L.order:
            t = trace_of[i]
            if t not in label_of and not nodes[i].get("ghost"):
                label_of[t] = _node_label(nodes[i], level)
        tickvals = [(b.y0 + b.y1) / 2 for b in L.bands] if level == "span" else []
        ticktext = [
            escape_text(label_of[b.key], limit=34)
            if b.key in label_of
            else f"{'not loaded' if b.key in unloaded else 'not stored'} {b.key[:8]}…"
            for b in L.bands
        ]
        if level == "trace":
            row_of = {_node_id(d): y[i] for i, d in enumerate(nodes)}
            tickvals = [row_of[b.key] for b in L.bands if b.key in row_of]
        fig_layout["yaxis"] = _axis(
            "",
            autorange="reversed",
            tickvals=tickvals,
            ticktext=ticktext,
            showgrid=False,
            tickfont={"size": 11},
        )
    else:
        last = max(x0, default=0.0)
        # Room for the labels centred over the first and last layers.
        fig_layout["xaxis"] = _axis(
            "generation (cause → effect)", dtick=1, range=[-0.6, last + 0.6]
        )
        fig_layout["yaxis"] = _axis("", autorange="reversed", showticklabels=False)
    return Diagram(
        figure={"data": data, "layout": fig_layout},
        traces=traces,
        clickable=clickable,
        links=links,
        rows=rows,
        layout=L.kind,
    )
