"""Jaeger v1 answers (``GET /api/traces/<id>``) in the shape of the recorded ones.

The shape is that of ``tests/fixtures/backends/jaeger-ui_otlp2jaeger-out.json``
(Jaeger's own ``{"data": [trace], ...}`` envelope): spans with
``references`` (a ``FOLLOWS_FROM`` or a ``CHILD_OF`` into another trace is
a link), ``processes`` holding the service names, times in microseconds.
"""

from __future__ import annotations

from dataclasses import dataclass

import orjson

from tests.backends.server import FakeBackendServer

US0 = 1_706_678_909_000_000  # 2024-01-31, as in the recorded body


def tid(n: int) -> str:
    return f"{n:032x}"


def sid(n: int) -> str:
    return f"{n:016x}"


@dataclass(frozen=True)
class JSpan:
    trace_id: str
    span_id: str
    name: str
    service: str
    start_us: int = US0
    duration_us: int = 1000
    follows: tuple[tuple[str, str], ...] = ()  # links, as Jaeger spells them


def v1_body(trace_id: str, spans: list[JSpan]) -> bytes:
    services = sorted({s.service for s in spans})
    pid = {svc: f"p{i + 1}" for i, svc in enumerate(services)}
    trace = {
        "traceID": trace_id,
        "spans": [
            {
                "traceID": s.trace_id,
                "spanID": s.span_id,
                "operationName": s.name,
                "references": [
                    {"refType": "FOLLOWS_FROM", "traceID": t, "spanID": sp} for t, sp in s.follows
                ],
                "startTime": s.start_us,
                "duration": s.duration_us,
                "tags": [],
                "logs": [],
                "processID": pid[s.service],
                "warnings": None,
            }
            for s in spans
        ],
        "processes": {pid[svc]: {"serviceName": svc, "tags": []} for svc in services},
        "warnings": None,
    }
    doc = {"data": [trace], "total": 0, "limit": 0, "offset": 0, "errors": None}
    return orjson.dumps(doc)


def serve_trace(server: FakeBackendServer, spans: list[JSpan], **route: object) -> None:
    """Answer ``GET /api/traces/<id>`` with these spans (api_v3 stays a 404, as on old Jaeger)."""
    trace_id = spans[0].trace_id
    server.answer(f"/api/traces/{trace_id}", 200, v1_body(trace_id, spans), **route)


# A batch consumer and the six producer traces it links:
#
#   trace 101 publish ─┐
#   trace 102 publish ─┤
#   ...                ├──FOLLOWS_FROM──> trace 200 batch.process
#   trace 106 publish ─┘
BATCH = tid(200)
PRODUCERS = [tid(100 + n) for n in range(1, 7)]


def batch_spans() -> list[JSpan]:
    return [
        JSpan(
            BATCH,
            sid(200),
            "batch.process",
            "settle",
            start_us=US0 + 50_000,
            follows=tuple((t, sid(int(t, 16))) for t in PRODUCERS),
        )
    ]


def producer_spans(trace_id: str) -> list[JSpan]:
    n = int(trace_id, 16)
    return [JSpan(trace_id, sid(n), f"publish {n - 100}", "orders", start_us=US0 + n)]


def serve_batch(server: FakeBackendServer, *, delay: float = 0.0) -> None:
    serve_trace(server, batch_spans())
    for t in PRODUCERS:
        serve_trace(server, producer_spans(t), delay=delay)


def fetches(server: FakeBackendServer) -> list[str]:
    """The trace paths asked for (v3 and v1), in order."""
    return [p for p in server.paths() if "/traces/" in p]
