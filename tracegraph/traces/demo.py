"""Demo traces: every span-link scenario, produced by the real OpenTelemetry SDK.

``manage.py demo`` calls :func:`demo_send`. Each scenario below is a small
function that drives one ``TracerProvider`` per service (so every span carries
its service's resource, as in production) with explicit start and end times
relative to a base time, so the demo always has the same shape. The spans go
through ``BatchSpanProcessor`` and ``OTLPSpanExporter`` (OTLP/HTTP protobuf,
gzip) to a receiver: ours at ``/v1/traces`` or any other.

Ids come from a seeded generator: they look random, and re-sending the demo
replaces the same traces instead of piling up copies.

Scenarios and the link types they exercise (``link.type`` on each link):

=================  ==========================================================
message_queue      Kafka producer -> consumers in new traces (async_trigger),
                   plus a RabbitMQ consumer whose link has no attributes
scheduled_job      signup -> welcome email 24 h later (scheduled_trigger)
retries            3 attempts, each a new trace linking the previous one
                   (retry_previous); attempts 1 and 2 fail
batch              settlement batch linking 12 payment traces, per-item
                   child spans each linking its origin (batch_source)
async_job          report export jobs with queue time (async_trigger)
saga               4-step order saga, each step linking all earlier steps,
                   and a failed saga with a compensation (workflow_predecessor)
event_sourcing     command -> event store append -> 2 projections (event_source)
search_fanout      federated search: parallel source calls, merge span
                   linking them, all in one trace (fanout_source)
awkward            dangling link, all-zero link with attributes, a batch of
                   150 sources over the SDK's 128-link cap
plain              HTTP requests with DB calls and no links, one failing
=================  ==========================================================
"""

from __future__ import annotations

import contextlib
import random
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import requests
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, SpanLimits, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.sdk.trace.id_generator import IdGenerator
from opentelemetry.trace import Link, SpanContext, SpanKind, Status, StatusCode, TraceFlags

__all__ = [
    "DEMO_ENVIRONMENT",
    "DEMO_MARKER_SERVICE",
    "LINK_LIMIT",
    "SCENARIOS",
    "DemoExportError",
    "DemoSummary",
    "ScenarioResult",
    "demo_loaded",
    "demo_send",
    "embedded_receiver",
]

#: ``deployment.environment`` of every demo resource: how ``--once`` knows.
DEMO_ENVIRONMENT = "tracegraph-demo"
#: A service only the demo uses; ``demo_loaded`` looks for its spans.
DEMO_MARKER_SERVICE = "settlement-batch"
#: ``SpanLimits.max_links`` of every demo provider (the SDK default, stated).
LINK_LIMIT = 128
#: Ids are drawn from this seed, so the demo re-sends the same traces.
DEMO_SEED = 20240917

MS = 1_000_000
S = 1_000 * MS
MIN = 60 * S
H = 60 * MIN

_SCOPE = "tracegraph.demo"
_SCOPE_VERSION = "1.0.0"


class DemoExportError(RuntimeError):
    """The receiver did not take every span the demo sent."""


@dataclass(frozen=True, slots=True)
class ScenarioResult:
    """The traces one scenario produced; ``focus`` is the one to look at first."""

    name: str
    focus: str
    traces: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class DemoSummary:
    spans: int
    traces: int
    links: int
    scenarios: tuple[ScenarioResult, ...]

    def scenario(self, name: str) -> ScenarioResult:
        return next(s for s in self.scenarios if s.name == name)

    @property
    def batch_trace_id(self) -> str:
        """The settlement batch trace: the demo's showcase of a batch fan-in."""
        return self.scenario("batch").focus


# --------------------------------------------------------------------------
# Plumbing: providers, exporters and a ledger of what the receiver accepted.


class _SeededIds(IdGenerator):
    """Random-looking, reproducible ids (never zero)."""

    def __init__(self, seed: int) -> None:
        self._rng = random.Random(seed)
        self._lock = threading.Lock()

    def _draw(self, bits: int) -> int:
        with self._lock:
            value = 0
            while value == 0:
                value = self._rng.getrandbits(bits)
            return value

    def generate_span_id(self) -> int:
        return self._draw(64)

    def generate_trace_id(self) -> int:
        return self._draw(128)

    def is_trace_id_random(self) -> bool:
        return True


@dataclass
class _Ledger:
    """What the exporters sent and the receiver accepted; filled from exporter threads."""

    spans: int = 0
    links: int = 0
    trace_ids: set[str] = field(default_factory=set)
    failures: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    # The last HTTP error seen by this thread: explains a failed export.
    last_error: threading.local = field(default_factory=threading.local)

    def sent(self, spans: Sequence[ReadableSpan]) -> None:
        with self.lock:
            self.spans += len(spans)
            self.links += sum(len(s.links) for s in spans)
            self.trace_ids.update(f"{s.context.trace_id:032x}" for s in spans if s.context)

    def failed(self, message: str) -> None:
        with self.lock:
            self.failures.append(message)


class _CheckedExporter(SpanExporter):
    """Delegates to the OTLP exporter and records each batch's outcome.

    ``BatchSpanProcessor`` only logs a failed export; the demo must fail loudly.
    """

    def __init__(self, inner: OTLPSpanExporter, service: str, ledger: _Ledger) -> None:
        self._inner, self._service, self._ledger = inner, service, ledger

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        if self._ledger.failures:
            # One failure fails the demo: spare the other services' retries
            # (up to the timeout each against an unreachable endpoint).
            return SpanExportResult.FAILURE
        result = self._inner.export(spans)
        if result is SpanExportResult.SUCCESS:
            self._ledger.sent(spans)
        else:
            reason = getattr(self._ledger.last_error, "text", "") or "receiver unreachable"
            self._ledger.failed(f"{self._service}: {len(spans)} spans not exported ({reason})")
        return result

    def shutdown(self) -> None:
        self._inner.shutdown()

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return self._inner.force_flush(timeout_millis)


def _response_hook(ledger: _Ledger) -> Callable[..., None]:
    """A requests hook reading the receiver's answer, which the SDK ignores.

    The OTLP exporter only looks at the status code; a ``partialSuccess``
    (spans rejected) or an error body would pass unnoticed.
    """

    def hook(response: requests.Response, *args: Any, **kwargs: Any) -> None:
        is_protobuf = "protobuf" in response.headers.get("Content-Type", "")
        if response.status_code >= 400:
            # Not a failure yet: the exporter retries 429/502/503/504.
            detail = response.text[:300] if not is_protobuf else _rpc_message(response.content)
            ledger.last_error.text = f"HTTP {response.status_code}: {detail.strip()}"
            return
        ledger.last_error.text = ""
        if is_protobuf and response.content:
            reply = ExportTraceServiceResponse()
            reply.ParseFromString(response.content)
            rejected = reply.partial_success.rejected_spans
            if rejected:
                ledger.failed(
                    f"receiver rejected {rejected} spans: {reply.partial_success.error_message}"
                )

    return hook


def _rpc_message(body: bytes) -> str:
    from google.rpc import status_pb2

    status = status_pb2.Status()
    try:
        status.ParseFromString(body)
    except Exception:  # not a Status: show nothing rather than binary
        return "(unreadable body)"
    return status.message


class Tracers:
    """One ``TracerProvider`` per service, all exporting to one endpoint.

    Scenario functions ask it for a service's tracer; the resource carries the
    service name and ``deployment.environment`` so the demo can be recognised.
    """

    def __init__(self, *, endpoint: str, token: str = "", timeout: float = 10.0) -> None:
        self.endpoint = endpoint
        self.ledger = _Ledger()
        self.ids = _SeededIds(DEMO_SEED)
        self._session = requests.Session()
        self._session.hooks["response"].append(_response_hook(self.ledger))
        self._headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._timeout = timeout
        self._providers: dict[str, TracerProvider] = {}

    def __call__(self, service: str) -> trace.Tracer:
        provider = self._providers.get(service)
        if provider is None:
            provider = TracerProvider(
                resource=Resource.create(
                    {
                        "service.name": service,
                        "service.namespace": "shop",
                        "service.version": "2.14.0",
                        "deployment.environment": DEMO_ENVIRONMENT,
                        "deployment.environment.name": DEMO_ENVIRONMENT,
                    }
                ),
                id_generator=self.ids,
                span_limits=SpanLimits(max_links=LINK_LIMIT),
                shutdown_on_exit=False,
            )
            exporter = OTLPSpanExporter(
                endpoint=self.endpoint,
                headers=self._headers,
                timeout=self._timeout,
                compression=Compression.Gzip,
                session=self._session,
            )
            # Long delay: the spans leave on force_flush, one request per
            # service, not on a timer halfway through a scenario.
            provider.add_span_processor(
                BatchSpanProcessor(
                    _CheckedExporter(exporter, service, self.ledger),
                    max_queue_size=4096,
                    max_export_batch_size=1024,
                    schedule_delay_millis=60_000,
                )
            )
            self._providers[service] = provider
        return provider.get_tracer(_SCOPE, _SCOPE_VERSION)

    def unsent_context(self) -> SpanContext:
        """A remote span context in a trace that is never sent (a dangling link)."""
        return SpanContext(
            trace_id=self.ids.generate_trace_id(),
            span_id=self.ids.generate_span_id(),
            is_remote=True,
            trace_flags=TraceFlags(TraceFlags.SAMPLED),
        )

    def close(self) -> None:
        """Flush every provider (one export each), then shut them down."""
        for service, provider in self._providers.items():
            if not provider.force_flush(timeout_millis=int(self._timeout * 3000)):
                self.ledger.failed(f"{service}: flush timed out")
        for provider in self._providers.values():
            provider.shutdown()
        self._session.close()


# --------------------------------------------------------------------------
# Span helpers and semantic-convention attribute builders.

Span = trace.Span


def _emit(
    tracer: trace.Tracer,
    name: str,
    start: int,
    end: int,
    *,
    kind: SpanKind = SpanKind.INTERNAL,
    parent: Span | None = None,
    links: Sequence[Link] = (),
    attributes: dict[str, Any] | None = None,
    error: str = "",
    error_type: str = "",
    ok: bool = False,
) -> Span:
    """Start and end one span at the given times; children pass it as ``parent``.

    Roots get an explicit empty context, so an active span of the caller can
    never adopt them.
    """
    context = trace.set_span_in_context(parent) if parent is not None else Context()
    span = tracer.start_span(
        name, context=context, kind=kind, links=links, attributes=attributes, start_time=start
    )
    if error:
        span.add_event(
            "exception",
            {"exception.type": error_type or "Error", "exception.message": error},
            timestamp=end - MS // 10,
        )
        span.set_status(Status(StatusCode.ERROR, error))
    elif ok:
        span.set_status(Status(StatusCode.OK))
    span.end(end_time=end)
    return span


def _link(span: Span | SpanContext, attributes: dict[str, Any] | None = None) -> Link:
    context = span if isinstance(span, SpanContext) else span.get_span_context()
    return Link(context, attributes)


def _trace_id(span: Span) -> str:
    return f"{span.get_span_context().trace_id:032x}"


def _http_server(method: str, route: str, status: int, path: str = "") -> dict[str, Any]:
    return {
        "http.request.method": method,
        "http.route": route,
        "url.path": path or route,
        "url.scheme": "https",
        "http.response.status_code": status,
        "network.protocol.version": "1.1",
        "user_agent.original": "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0",
    }


def _http_client(method: str, url: str, status: int) -> dict[str, Any]:
    host = url.split("/")[2]
    return {
        "http.request.method": method,
        "url.full": url,
        "server.address": host.split(":")[0],
        "http.response.status_code": status,
    }


def _db(system: str, operation: str, collection: str, query: str, **extra: Any) -> dict[str, Any]:
    return {
        "db.system.name": system,
        "db.namespace": "shop",
        "db.operation.name": operation,
        "db.collection.name": collection,
        "db.query.text": query,
        **extra,
    }


def _messaging(system: str, destination: str, operation: str, **extra: Any) -> dict[str, Any]:
    kinds = {"publish": "send", "process": "process", "receive": "receive"}
    return {
        "messaging.system": system,
        "messaging.destination.name": destination,
        "messaging.operation.name": operation,
        "messaging.operation.type": kinds[operation],
        **extra,
    }


def _serve(
    tracer: trace.Tracer,
    start: int,
    end: int,
    method: str,
    route: str,
    status: int,
    *,
    path: str = "",
    attributes: dict[str, Any] | None = None,
    links: Sequence[Link] = (),
    error: str = "",
    error_type: str = "",
) -> Span:
    """An HTTP SERVER root span named ``METHOD route``."""
    attrs = {**_http_server(method, route, status, path), **(attributes or {})}
    return _emit(
        tracer,
        f"{method} {route}",
        start,
        end,
        kind=SpanKind.SERVER,
        links=links,
        attributes=attrs,
        error=error,
        error_type=error_type,
    )


def _query(
    tracer: trace.Tracer,
    parent: Span,
    start: int,
    end: int,
    system: str,
    operation: str,
    collection: str,
    query: str,
    *,
    error: str = "",
    error_type: str = "",
    **extra: Any,
) -> Span:
    """A database CLIENT span named ``OPERATION collection``."""
    return _emit(
        tracer,
        f"{operation} {collection}".strip(),
        start,
        end,
        kind=SpanKind.CLIENT,
        parent=parent,
        attributes=_db(system, operation, collection, query, **extra),
        error=error,
        error_type=error_type,
    )


def _call(
    tracer: trace.Tracer,
    parent: Span,
    start: int,
    end: int,
    method: str,
    url: str,
    status: int,
    *,
    error: str = "",
) -> Span:
    """An outgoing HTTP CLIENT span, named by its method as the semantic conventions ask."""
    return _emit(
        tracer,
        method,
        start,
        end,
        kind=SpanKind.CLIENT,
        parent=parent,
        attributes=_http_client(method, url, status),
        error=error,
        error_type="HTTPError",
    )


def _ms(delta_ns: int) -> int:
    return delta_ns // MS


# --------------------------------------------------------------------------
# Scenarios. Each takes the tracers and the time its story starts at.
# One span per statement with its arguments packed: the formatter's
# one-argument-per-line layout would triple this section and bury the story.

# fmt: off


def message_queue(tracers: Tracers, at: int) -> ScenarioResult:
    """Orders published to Kafka by checkout-api, processed by fulfillment-worker.

    Each consumer starts a new trace and links the producer span. A refund
    published to RabbitMQ is processed by a worker whose link carries no
    attributes at all: only its CONSUMER kind says what the link means.
    """
    api, worker = tracers("checkout-api"), tracers("fulfillment-worker")
    traces: list[str] = []
    for n, lag in enumerate((180 * MS, 2_350 * MS, 640 * MS)):
        t = at + n * 9 * MIN
        order, message = f"ord-{48213 + n}", f"msg-{91000 + n}"
        req = _serve(api, t, t + 62 * MS, "POST", "/api/orders", 201,
                     attributes={"order.id": order})
        _query(api, req, t + 8 * MS, t + 21 * MS, "postgresql", "INSERT", "orders",
               "INSERT INTO orders (...) VALUES (...)")
        pub = _emit(
            api, "publish orders", t + 40 * MS, t + 47 * MS, kind=SpanKind.PRODUCER, parent=req,
            attributes=_messaging("kafka", "orders", "publish", **{
                "messaging.message.id": message,
                "messaging.kafka.message.key": order,
                "messaging.destination.partition.id": str(n % 3),
            }),
        )
        start = t + 47 * MS + lag
        consumer = _emit(
            worker, "process orders", start, start + 310 * MS, kind=SpanKind.CONSUMER,
            links=[_link(pub, {
                "link.type": "async_trigger",
                "link.queue.name": "orders",
                "link.queue.delay_ms": _ms(lag),
                "messaging.message.id": message,
            })],
            attributes=_messaging("kafka", "orders", "process", **{
                "messaging.message.id": message,
                "messaging.kafka.message.key": order,
                "messaging.consumer.group.name": "fulfillment",
                "messaging.kafka.offset": 771_402 + n,
                "order.id": order,
            }),
        )
        _query(worker, consumer, start + 40 * MS, start + 95 * MS, "postgresql", "INSERT",
               "shipments", "INSERT INTO shipments (...) VALUES (...)")
        _call(worker, consumer, start + 120 * MS, start + 290 * MS, "POST",
              "https://api.carrier.example/v2/labels", 201)
        traces += [_trace_id(req), _trace_id(consumer)]

    # The plain consumer: a link with no attributes.
    payments, refunds = tracers("payments-api"), tracers("refund-worker")
    t = at + 40 * MIN
    req = _serve(payments, t, t + 35 * MS, "POST", "/api/refunds", 202,
                 attributes={"refund.id": "rf-5521"})
    pub = _emit(
        payments, "publish refunds", t + 20 * MS, t + 24 * MS, kind=SpanKind.PRODUCER, parent=req,
        attributes=_messaging("rabbitmq", "refunds", "publish",
                              **{"messaging.message.id": "rf-5521-1"}),
    )
    start = t + 24 * MS + 1_200 * MS
    consumer = _emit(
        refunds, "process refunds", start, start + 420 * MS, kind=SpanKind.CONSUMER,
        links=[_link(pub)],
        attributes=_messaging("rabbitmq", "refunds", "process", **{
            "messaging.message.id": "rf-5521-1",
            "messaging.consumer.group.name": "refund-worker",
        }),
    )
    _call(refunds, consumer, start + 30 * MS, start + 400 * MS, "POST",
          "https://api.psp.example/v1/refunds", 200)
    traces += [_trace_id(req), _trace_id(consumer)]
    return ScenarioResult("message_queue", traces[1], tuple(traces))


def scheduled_job(tracers: Tracers, at: int) -> ScenarioResult:
    """A signup schedules a welcome email; the job runs 24 hours later, linking back."""
    accounts, emails = tracers("accounts-api"), tracers("email-worker")
    req = _serve(accounts, at, at + 140 * MS, "POST", "/api/signup", 201,
                 attributes={"enduser.id": "u-30117"})
    _query(accounts, req, at + 10 * MS, at + 32 * MS, "postgresql", "INSERT", "users",
           "INSERT INTO users (...) VALUES (...)")
    handler = _emit(
        accounts, "user.signup.handler", at + 40 * MS, at + 130 * MS, parent=req,
        attributes={"enduser.id": "u-30117", "job.type": "send-welcome-email",
                    "schedule.delay": "24h"},
    )
    run_at = at + 130 * MS + 24 * H
    job = _emit(
        emails, "job.send-welcome-email", run_at, run_at + 870 * MS,
        links=[_link(handler, {
            "link.type": "scheduled_trigger",
            "schedule.delay": "24h",
            "schedule.delay_ms": 24 * 3_600_000,
            "link.delay_ms": _ms(run_at - (at + 130 * MS)),
        })],
        attributes={"job.type": "send-welcome-email", "job.id": "job-7f21c",
                    "enduser.id": "u-30117", "schedule.scheduled_at_unix_ms": run_at // MS},
    )
    _query(emails, job, run_at + 5 * MS, run_at + 14 * MS, "postgresql", "SELECT", "users",
           "SELECT * FROM users WHERE id = $1")
    _call(emails, job, run_at + 30 * MS, run_at + 850 * MS, "POST",
          "https://api.mailer.example/v3/mail/send", 202)
    return ScenarioResult("scheduled_job", _trace_id(job), (_trace_id(req), _trace_id(job)))


def retries(tracers: Tracers, at: int) -> ScenarioResult:
    """Rendering an invoice PDF: attempts 1 and 2 get a 503, attempt 3 succeeds.

    Each attempt is a new trace linking the previous attempt; backoff 2 s, 4 s.
    """
    invoices = tracers("invoice-service")
    previous: Span | None = None
    traces: list[str] = []
    t = at
    for attempt, status in ((1, 503), (2, 503), (3, 200)):
        failed = status != 200
        end = t + (1_150 if failed else 2_400) * MS
        links = []
        if previous is not None:
            links = [_link(previous, {
                "link.type": "retry_previous",
                "retry.previous_attempt": attempt - 1,
                "link.retry.attempt": attempt,
                "link.retry.reason": "pdf-renderer returned 503",
            })]
        span = _emit(
            invoices, "invoice.render.attempt", t, end, links=links,
            attributes={"retry.attempt": attempt, "retry.max_attempts": 3,
                        "invoice.id": "inv-2024-00871"},
            error="pdf-renderer returned 503 Service Unavailable" if failed else "",
            error_type="RendererUnavailable", ok=not failed,
        )
        _call(invoices, span, t + 20 * MS, end - 30 * MS, "POST",
              "http://pdf-renderer:8080/render", status,
              error="503 Service Unavailable" if failed else "")
        if not failed:
            _query(invoices, span, end - 25 * MS, end - 5 * MS, "postgresql", "UPDATE",
                   "invoices", "UPDATE invoices SET pdf_url = $1 WHERE id = $2")
        traces.append(_trace_id(span))
        previous = span
        t = end + (2**attempt) * S  # exponential backoff
    return ScenarioResult("retries", traces[-1], tuple(traces))


def batch(tracers: Tracers, at: int) -> ScenarioResult:
    """Twelve payments queue settlements; one batch span links all twelve.

    Each ``batch.item.process`` child links its own origin; item 7 fails.
    """
    payments, batcher = tracers("payments-api"), tracers("settlement-batch")
    size, every = 12, 23 * S
    producers: list[Span] = []
    traces: list[str] = []
    for i in range(size):
        t = at + i * every
        req = _serve(payments, t, t + 95 * MS, "POST", "/api/payments", 201,
                     attributes={"payment.id": f"pay-{7300 + i}"})
        producers.append(_emit(
            payments, "publish settlements", t + 80 * MS, t + 86 * MS, kind=SpanKind.PRODUCER,
            parent=req,
            attributes=_messaging("rabbitmq", "settlements", "publish",
                                  **{"messaging.message.id": f"pay-{7300 + i}"}),
        ))
        traces.append(_trace_id(req))
    start = at + (size - 1) * every + 40 * S
    links = [
        _link(p, {
            "link.type": "batch_source",
            "link.batch.index": i,
            "link.batch.size": size,
            "link.queue.delay_ms": _ms(start - (at + i * every + 86 * MS)),
        })
        for i, p in enumerate(producers)
    ]
    item_time = 140 * MS
    end = start + 30 * MS + size * item_time + 90 * MS
    root = _emit(
        batcher, "batch.process", start, end, kind=SpanKind.CONSUMER, links=links,
        attributes={
            **_messaging("rabbitmq", "settlements", "process",
                         **{"messaging.batch.message_count": size}),
            "batch.size": size, "batch.link_count": size,
            "batch.success_count": size - 1, "batch.failure_count": 1,
        },
    )
    for i, p in enumerate(producers):
        t = start + 30 * MS + i * item_time
        _emit(
            batcher, "batch.item.process", t, t + item_time - 10 * MS, parent=root,
            links=[_link(p, {"link.type": "batch_source", "link.batch.index": i})],
            attributes={"batch.item.index": i, "batch.item.id": f"pay-{7300 + i}"},
            error="card network timeout" if i == 7 else "", error_type="TimeoutError",
        )
    _query(batcher, root, end - 85 * MS, end - 5 * MS, "postgresql", "INSERT", "settlements",
           "INSERT INTO settlements (...) VALUES (...), (...)")
    return ScenarioResult("batch", _trace_id(root), (_trace_id(root), *traces))


def async_job(tracers: Tracers, at: int) -> ScenarioResult:
    """Report exports enqueued by reports-api, executed later by reports-worker."""
    api, worker = tracers("reports-api"), tracers("reports-worker")
    traces: list[str] = []
    for n, queued in enumerate((850 * MS, 47 * S)):
        t = at + n * 6 * MIN
        job_id = f"job-{4410 + n}"
        job = {"job.type": "report.export", "job.id": job_id}
        req = _serve(api, t, t + 48 * MS, "POST", "/api/reports", 202, attributes=job)
        enqueue = _emit(
            api, "job.enqueue", t + 30 * MS, t + 36 * MS, kind=SpanKind.PRODUCER, parent=req,
            attributes={**job, **_messaging("redis", "reports", "publish",
                                            **{"messaging.message.id": job_id})},
        )
        start = t + 36 * MS + queued
        run = _emit(
            worker, "job.execute", start, start + 3_200 * MS, kind=SpanKind.CONSUMER,
            links=[_link(enqueue, {
                "link.type": "async_trigger",
                "link.queue.name": "reports",
                "link.queue.delay_ms": _ms(queued),
                "job.id": job_id,
            })],
            attributes={**job, **_messaging("redis", "reports", "process",
                                            **{"messaging.message.id": job_id})},
        )
        _query(worker, run, start + 15 * MS, start + 1_900 * MS, "postgresql", "SELECT",
               "orders", "SELECT * FROM orders WHERE created_at >= $1 AND created_at < $2")
        _call(worker, run, start + 1_950 * MS, start + 3_150 * MS, "PUT",
              f"https://reports.s3.example/exports/{job_id}.csv", 200)
        traces += [_trace_id(req), _trace_id(run)]
    return ScenarioResult("async_job", traces[1], tuple(traces))


#: The saga's steps and the service that runs each.
_SAGA_STEPS = (
    ("validate", "orders-service"),
    ("reserve-inventory", "inventory-service"),
    ("charge-payment", "payments-service"),
    ("ship", "shipping-service"),
)


def _saga_step(
    tracers: Tracers,
    workflow_id: str,
    step: str,
    service: str,
    start: int,
    done: list[tuple[str, Span, int]],
    *,
    error: str = "",
    compensates: str = "",
) -> None:
    """One step in its own trace, linking every completed step before it."""
    links = [
        _link(span, {
            "link.type": "workflow_predecessor",
            "workflow.id": workflow_id,
            "workflow.previous_step": name,
            "link.gap_ms": _ms(start - ended),
        })
        for name, span, ended in done
    ]
    attributes: dict[str, Any] = {
        "workflow.id": workflow_id, "workflow.name": "order-fulfilment",
        "workflow.step": step, "workflow.step_number": len(done) + 1,
    }
    if compensates:
        attributes |= {"workflow.compensation": True, "workflow.compensates": compensates}
    tracer = tracers(service)
    end = start + 600 * MS
    span = _emit(
        tracer, f"workflow.step.{step}", start, end, kind=SpanKind.CONSUMER, links=links,
        attributes=attributes, error=error, error_type="PaymentDeclined",
    )
    work_start, work_end = start + 50 * MS, end - 50 * MS
    if step == "charge-payment":
        _call(tracer, span, work_start, work_end, "POST", "https://api.psp.example/v1/charges",
              402 if error else 200, error=error)
    elif step == "ship":
        _query(tracer, span, work_start, work_end, "postgresql", "INSERT", "shipments",
               "INSERT INTO shipments (...) VALUES (...)")
    elif step == "validate":
        _query(tracer, span, work_start, work_end, "postgresql", "SELECT", "orders",
               "SELECT * FROM orders WHERE id = $1")
    else:
        sign = "-" if compensates else "+"
        _query(tracer, span, work_start, work_end, "postgresql", "UPDATE", "stock",
               f"UPDATE stock SET reserved = reserved {sign} $1 WHERE sku = $2")
    done.append((step, span, end))


def saga(tracers: Tracers, at: int) -> ScenarioResult:
    """A 4-step order saga; a second saga fails at payment and compensates."""
    done: list[tuple[str, Span, int]] = []
    t = at
    for number, (step, service) in enumerate(_SAGA_STEPS, start=1):
        _saga_step(tracers, "saga-ord-48213", step, service, t, done)
        t += 600 * MS + number * 1_500 * MS  # the gaps grow: queues between steps
    completed = tuple(_trace_id(span) for _, span, _ in done)

    failed: list[tuple[str, Span, int]] = []
    t = at + 5 * MIN
    for step, service in _SAGA_STEPS[:3]:
        declined = "card declined" if step == "charge-payment" else ""
        _saga_step(tracers, "saga-ord-48290", step, service, t, failed, error=declined)
        t += 1_600 * MS
    _saga_step(tracers, "saga-ord-48290", "release-inventory", "inventory-service", t, failed,
               compensates="reserve-inventory")
    compensated = tuple(_trace_id(span) for _, span, _ in failed)
    return ScenarioResult("saga", completed[-1], completed + compensated)


def event_sourcing(tracers: Tracers, at: int) -> ScenarioResult:
    """CreateOrder appends OrderCreated; two projections link the appended event."""
    orders = tracers("orders-service")
    event = {"event.type": "OrderCreated", "event.stream": "order-ord-48301",
             "event.sequence": 1042}
    command = _serve(orders, at, at + 75 * MS, "POST", "/api/commands/create-order", 202,
                     attributes={"command.type": "CreateOrder", "order.id": "ord-48301"})
    append = _emit(
        orders, "eventstore.append", at + 30 * MS, at + 52 * MS, kind=SpanKind.CLIENT,
        parent=command,
        attributes={**event, **_db(
            "postgresql", "INSERT", "events",
            "INSERT INTO events (stream, sequence, type, data) VALUES (...)",
        )},
    )
    traces = [_trace_id(command)]
    projections = (
        ("order-read-model", "projection.order_created", "order_summaries"),
        ("customer-timeline", "projection.customer_timeline", "timeline_entries"),
    )
    for n, (service, name, table) in enumerate(projections):
        tracer = tracers(service)
        start = at + 52 * MS + (90 + n * 260) * MS
        projection = _emit(
            tracer, name, start, start + 45 * MS, kind=SpanKind.CONSUMER, attributes=event,
            links=[_link(append, {"link.type": "event_source", "event.type": "OrderCreated",
                                  "event.sequence": 1042})],
        )
        _query(tracer, projection, start + 10 * MS, start + 38 * MS, "postgresql", "INSERT",
               table, f"INSERT INTO {table} (...) VALUES (...) ON CONFLICT DO UPDATE")
        traces.append(_trace_id(projection))
    return ScenarioResult("event_sourcing", traces[0], tuple(traces))


def search_fanout(tracers: Tracers, at: int) -> ScenarioResult:
    """Federated search: three source calls in parallel, a merge span links them."""
    search = tracers("search-api")
    query = "wireless headphones"
    req = _serve(search, at, at + 410 * MS, "GET", "/api/search", 200,
                 path="/api/search?q=wireless+headphones")
    federated = _emit(
        search, "search.federated", at + 5 * MS, at + 400 * MS, parent=req,
        attributes={"search.query": query, "search.source_count": 3, "search.total_results": 57},
    )
    sources = (
        ("elastic", 8, 240, 31, {
            **_http_client("POST", "http://es-products:9200/products/_search", 200),
            "db.system.name": "elasticsearch", "db.operation.name": "search",
        }),
        ("postgres", 9, 310, 18, _db(
            "postgresql", "SELECT", "products",
            "SELECT id, ts_rank(doc, q) FROM products, plainto_tsquery($1) q WHERE doc @@ q",
        )),
        ("redis", 9, 60, 12, _db("redis", "FT.SEARCH", "idx:products", "FT.SEARCH idx:products ?")),
    )
    calls = [
        _emit(
            search, f"search.source.{source}", at + offset * MS, at + (offset + took) * MS,
            kind=SpanKind.CLIENT, parent=federated,
            attributes={"search.source": source, "search.query": query,
                        "search.result_count": results, **attributes},
        )
        for source, offset, took, results, attributes in sources
    ]
    merge_at = at + 322 * MS  # after the slowest source
    _emit(
        search, "search.merge", merge_at, merge_at + 70 * MS, parent=federated,
        links=[_link(c, {"link.type": "fanout_source", "fanin.source_index": i})
               for i, c in enumerate(calls)],
        attributes={"search.source_results": 3, "search.merged_count": 57},
    )
    trace_id = _trace_id(req)
    return ScenarioResult("search_fanout", trace_id, (trace_id,))


def awkward(tracers: Tracers, at: int) -> ScenarioResult:
    """Links a viewer must survive: dangling, all-zero, and more than the SDK keeps.

    - audit-consumer links a producer whose trace is never sent.
    - partner-webhooks got an all-zero traceparent: its link has attributes,
      so the SDK keeps and exports it; a second all-zero link without
      attributes is dropped by the SDK itself (not even counted).
    - analytics-rollup batches 150 clickstream events but the SDK keeps 128
      links (the last 128: it drops the oldest) and sends
      ``dropped_links_count`` = 22.
    """
    audit = tracers("audit-consumer")
    dangling = _emit(
        audit, "process audit-log", at, at + 35 * MS, kind=SpanKind.CONSUMER,
        links=[_link(tracers.unsent_context(), {
            "link.type": "async_trigger", "link.queue.name": "audit-log",
            "link.queue.delay_ms": 5_400,
        })],
        attributes=_messaging("kafka", "audit-log", "process",
                              **{"messaging.consumer.group.name": "audit"}),
    )
    _query(audit, dangling, at + 5 * MS, at + 30 * MS, "postgresql", "INSERT", "audit_entries",
           "INSERT INTO audit_entries (...) VALUES (...)")

    webhooks = tracers("partner-webhooks")
    t = at + 20 * MIN
    zero = SpanContext(trace_id=0, span_id=0, is_remote=True)
    invalid = _serve(
        webhooks, t, t + 55 * MS, "POST", "/webhooks/partner", 204,
        links=[
            _link(zero, {"link.type": "async_trigger", "link.source": "partner traceparent",
                         "link.invalid_reason": "all-zero trace id and span id"}),
            _link(zero),  # no attributes: the SDK drops it, as the spec allows
        ],
    )

    collector, rollup = tracers("clickstream-collector"), tracers("analytics-rollup")
    t = at - 3 * H
    events: list[Span] = []
    origins: list[str] = []
    for page in range(30):
        start = t + page * 37 * S
        req = _serve(collector, start, start + 18 * MS, "POST", "/collect", 204)
        for n in range(5):
            events.append(_emit(
                collector, "publish clickstream", start + (2 + 3 * n) * MS,
                start + (4 + 3 * n) * MS, kind=SpanKind.PRODUCER, parent=req,
                attributes=_messaging("kafka", "clickstream", "publish",
                                      **{"messaging.message.id": f"ev-{page}-{n}"}),
            ))
        origins.append(_trace_id(req))
    start = t + 30 * 37 * S + 15 * S
    total = len(events)
    rolled = _emit(
        rollup, "batch.process", start, start + 2_600 * MS, kind=SpanKind.CONSUMER,
        links=[
            _link(e, {"link.type": "batch_source", "link.batch.index": i,
                      "link.batch.size": total})
            for i, e in enumerate(events)
        ],
        attributes={
            **_messaging("kafka", "clickstream", "process",
                         **{"messaging.batch.message_count": total}),
            "batch.size": total, "batch.total_sources": total,
            "batch.link_limit": LINK_LIMIT, "batch.links_truncated": total > LINK_LIMIT,
        },
    )
    _query(rollup, rolled, start + 2_100 * MS, start + 2_550 * MS, "postgresql", "INSERT",
           "page_views_hourly",
           "INSERT INTO page_views_hourly (...) VALUES (...) ON CONFLICT DO UPDATE")
    return ScenarioResult(
        "awkward",
        _trace_id(rolled),
        (_trace_id(rolled), _trace_id(dangling), _trace_id(invalid), *origins),
    )


def plain(tracers: Tracers, at: int) -> ScenarioResult:
    """Ordinary request traces without links; the checkout one fails on a deadlock."""
    api = tracers("checkout-api")
    ok = _serve(api, at, at + 38 * MS, "GET", "/api/orders/{order_id}", 200,
                path="/api/orders/ord-48213")
    _query(api, ok, at + 2 * MS, at + 3 * MS, "redis", "GET", "", "GET order:ord-48213")
    _query(api, ok, at + 4 * MS, at + 15 * MS, "postgresql", "SELECT", "orders",
           "SELECT * FROM orders WHERE id = $1")
    _query(api, ok, at + 16 * MS, at + 33 * MS, "postgresql", "SELECT", "order_items",
           "SELECT * FROM order_items WHERE order_id = $1")
    t = at + 7 * MIN
    deadlock = {"error": "deadlock detected", "error_type": "psycopg.errors.DeadlockDetected"}
    failed = _serve(api, t, t + 1_240 * MS, "POST", "/api/cart/checkout", 500, **deadlock)
    _query(api, failed, t + 3 * MS, t + 12 * MS, "postgresql", "SELECT", "carts",
           "SELECT * FROM carts WHERE id = $1")
    _query(api, failed, t + 15 * MS, t + 1_225 * MS, "postgresql", "UPDATE", "inventory",
           "UPDATE inventory SET quantity = quantity - $1 WHERE sku = $2",
           **{"db.response.status_code": "40P01"}, **deadlock)
    return ScenarioResult("plain", _trace_id(failed), (_trace_id(ok), _trace_id(failed)))
# fmt: on


Scenario = Callable[[Tracers, int], ScenarioResult]

#: Each scenario with when its story starts, as an offset back from now.
#: The scheduled job's trigger is 26 h ago so its run, 24 h later, is recent.
SCENARIOS: tuple[tuple[Scenario, int], ...] = (
    (message_queue, 3 * H),
    (scheduled_job, 26 * H),
    (retries, 90 * MIN),
    (batch, 75 * MIN),
    (async_job, 50 * MIN),
    (saga, 40 * MIN),
    (event_sourcing, 25 * MIN),
    (search_fanout, 15 * MIN),
    (awkward, 5 * H),
    (plain, 10 * MIN),
)


# --------------------------------------------------------------------------
# Entry points.


def demo_send(*, endpoint: str, now_ns: int, token: str = "", timeout: float = 10.0) -> DemoSummary:
    """Produce every scenario with the OpenTelemetry SDK and export it to ``endpoint``.

    ``endpoint`` is the full OTLP/HTTP traces URL (``.../v1/traces``). Raises
    :class:`DemoExportError` if any batch failed or the receiver rejected spans.
    """
    tracers = Tracers(endpoint=endpoint, token=token, timeout=timeout)
    try:
        results = tuple(scenario(tracers, now_ns - offset) for scenario, offset in SCENARIOS)
    finally:
        tracers.close()
    ledger = tracers.ledger
    if ledger.failures:
        raise DemoExportError(
            f"exporting the demo to {endpoint} failed: " + "; ".join(ledger.failures[:5])
        )
    return DemoSummary(
        spans=ledger.spans, traces=len(ledger.trace_ids), links=ledger.links, scenarios=results
    )


def demo_loaded() -> bool:
    """Whether the demo is in the store: one indexed lookup on its marker service."""
    from tracegraph.traces.models import Span as SpanRow

    return SpanRow.objects.filter(
        service=DEMO_MARKER_SERVICE,
        **{"resource_attributes__deployment.environment": DEMO_ENVIRONMENT},
    ).exists()


@contextlib.contextmanager
def embedded_receiver(host: str = "127.0.0.1") -> Iterator[str]:
    """Serve this Django app on an ephemeral port in a thread; yield its ``/v1/traces`` URL.

    So that ``manage.py demo`` needs no running server, yet its spans still go
    through HTTP and the real receiver. In-memory SQLite connections (tests)
    are shared with the server threads, as Django's live server does.
    """
    from django.core.servers.basehttp import (
        ThreadedWSGIServer,
        WSGIRequestHandler,
        get_internal_wsgi_application,
    )
    from django.db import connections

    class QuietHandler(WSGIRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

    shared = {
        conn.alias: conn
        for conn in connections.all()
        if conn.vendor == "sqlite" and conn.is_in_memory_db()
    }
    server = ThreadedWSGIServer(
        (host, 0), QuietHandler, allow_reuse_address=False, connections_override=shared
    )
    server.set_app(get_internal_wsgi_application())
    for conn in shared.values():
        conn.inc_thread_sharing()
    thread = threading.Thread(target=server.serve_forever, name="demo-receiver", daemon=True)
    thread.start()
    try:
        yield f"http://{host}:{server.server_address[1]}/v1/traces"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
        for conn in shared.values():
            conn.dec_thread_sharing()
