"""The cross-trace span graph with networkx (no Django here).

Build it (:func:`build_graph`), grow it over links (:func:`expand`), view it
per trace or service (:func:`trace_level`, :func:`service_level`), follow one
span's journey (:func:`journey`), measure link delays (:mod:`.metrics`).
"""

from tracegraph.graphs.build import Anomalies, LinkRef, NodeKey, build_graph
from tracegraph.graphs.expand import Cut, MemorySource, Neighbourhood, TraceSource, expand
from tracegraph.graphs.journey import Gap, Journey, JourneyStep, journey
from tracegraph.graphs.levels import service_level, trace_level
from tracegraph.graphs.metrics import (
    DelayStats,
    delay_stats,
    delays_by,
    format_duration,
    link_delays,
    link_type_counts,
)

__all__ = [
    "Anomalies",
    "Cut",
    "DelayStats",
    "Gap",
    "Journey",
    "JourneyStep",
    "LinkRef",
    "MemorySource",
    "Neighbourhood",
    "NodeKey",
    "TraceSource",
    "build_graph",
    "delay_stats",
    "delays_by",
    "expand",
    "format_duration",
    "journey",
    "link_delays",
    "link_type_counts",
    "service_level",
    "trace_level",
]
