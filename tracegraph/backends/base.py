"""The contract every trace backend keeps, its errors, and the backend registry.

A backend is where traces come from: the app's own database (``local``), a
Jaeger or Tempo query API, or files written by the Collector's file exporter.
Each one is a class registered under a name with :func:`register_backend`
(NetBox registers its data backends the same way) and built from Django
settings by its ``from_settings`` class method; :func:`get_backend` picks the
one named by ``TRACEGRAPH_BACKEND``::

    @register_backend("jaeger")
    class JaegerBackend:
        name = "jaeger"

        @classmethod
        def from_settings(cls) -> JaegerBackend: ...

Every backend is a :class:`TraceBackend`, so it is also the ``TraceSource``
that :func:`tracegraph.graphs.expand.expand` reads from.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Protocol, TypeVar, runtime_checkable

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from tracegraph.domain.ids import normalize_trace_id
from tracegraph.domain.records import LinkRecord, SpanRecord, StatusCode, TraceRecord

__all__ = [
    "DEFAULT_BACKEND",
    "SETTING_NAMES",
    "BackendError",
    "BackendUnavailable",
    "TraceBackend",
    "TraceNotFound",
    "backend_names",
    "clear_backend_cache",
    "get_backend",
    "register_backend",
    "setting",
    "summarise_traces",
    "trace_id_or_not_found",
]

DEFAULT_BACKEND = "local"

#: Every Django setting a backend reads; a change to any of them builds a new
#: backend instance (the instances are cached: otlp-file keeps its index there).
SETTING_NAMES = (
    "TRACEGRAPH_BACKEND",
    "TRACEGRAPH_JAEGER_URL",
    "TRACEGRAPH_TEMPO_URL",
    "TRACEGRAPH_BACKEND_AUTH_HEADER",
    "TRACEGRAPH_BACKEND_TIMEOUT",
    "TRACEGRAPH_OTLP_FILE",
)


class BackendError(Exception):
    """The backend answered, but not with something usable (bad request, auth, not JSON)."""


class BackendUnavailable(BackendError):
    """The backend did not answer: timeout, connection refused, HTTP 5xx (show as 503)."""


class TraceNotFound(BackendError, LookupError):
    """The backend does not have this trace (show as 404)."""

    def __init__(self, trace_id: str, backend: str = "") -> None:
        where = f" in {backend}" if backend else ""
        super().__init__(f"trace {trace_id} not found{where}")
        self.trace_id = trace_id


@runtime_checkable
class TraceBackend(Protocol):
    """Where traces come from. Also a ``TraceSource`` for graph expansion.

    ``links_into`` returns an empty list and ``incoming_known`` is False when
    the backend cannot tell which spans link into a trace (Jaeger, Tempo
    before 2.6): the UI says "incoming links unknown", not "none".
    """

    name: str

    @property
    def incoming_known(self) -> bool: ...

    def spans_of(self, trace_ids: Sequence[str]) -> list[SpanRecord]:
        """All spans of these traces, each with the links it holds; unknown ids are skipped."""
        ...

    def links_into(self, trace_ids: Sequence[str]) -> list[LinkRecord]:
        """Links held by any span whose target is a span of one of these traces."""
        ...

    def search(self, *, service: str = "", name: str = "", limit: int = 50) -> list[TraceRecord]:
        """Trace summaries, most recent first, by (root) service and span name."""
        ...

    def get_trace(self, trace_id: str) -> list[SpanRecord]:
        """The spans of one trace; raises :class:`TraceNotFound` or :class:`BackendUnavailable`."""
        ...


BackendT = TypeVar("BackendT", bound=type[Any])

_REGISTRY: dict[str, Callable[[], TraceBackend]] = {}
_INSTANCES: dict[tuple[Any, ...], TraceBackend] = {}
_LOCK = threading.Lock()


def register_backend(name: str) -> Callable[[BackendT], BackendT]:
    """Register the decorated class under ``name``; it must have ``from_settings()``."""

    def decorator(cls: BackendT) -> BackendT:
        _REGISTRY[name] = cls.from_settings
        return cls

    return decorator


def backend_names() -> list[str]:
    """The registered backend names, in registration order."""
    return list(_REGISTRY)


def setting(name: str, default: Any = "") -> Any:
    """A ``TRACEGRAPH_*`` setting, ``default`` when it is absent or empty."""
    value = getattr(settings, name, default)
    return default if value in (None, "") else value


def get_backend(name: str | None = None) -> TraceBackend:
    """The backend called ``name``, by default the one ``TRACEGRAPH_BACKEND`` names.

    Instances are cached per name and settings (the otlp-file index and the
    Tempo version live on the instance); changed settings build a new one.
    Raises ``ImproperlyConfigured`` for an unknown name or a missing URL.
    """
    chosen = name or setting("TRACEGRAPH_BACKEND", DEFAULT_BACKEND)
    factory = _REGISTRY.get(chosen)
    if factory is None:
        raise ImproperlyConfigured(
            f"TRACEGRAPH_BACKEND={chosen!r} is not a trace backend; known: {', '.join(_REGISTRY)}"
        )
    key = (chosen, *(repr(getattr(settings, s, None)) for s in SETTING_NAMES))
    with _LOCK:
        backend = _INSTANCES.get(key)
        if backend is None:
            backend = _INSTANCES[key] = factory()
    return backend


def clear_backend_cache() -> None:
    """Forget the cached backend instances (tests, settings reloads)."""
    with _LOCK:
        _INSTANCES.clear()


def trace_id_or_not_found(trace_id: str, backend: str = "") -> str:
    """The normalised trace id; an invalid one cannot exist anywhere, so it is not found."""
    normal = normalize_trace_id(trace_id)
    if normal is None:
        raise TraceNotFound(trace_id, backend)
    return normal


def summarise_traces(
    spans: Iterable[SpanRecord], *, links_in: dict[str, int] | None = None
) -> list[TraceRecord]:
    """Summary rows for the traces of ``spans``, most recent first.

    The root is the earliest span without a parent, else the earliest span
    (the same rule as the store's summary rows). ``links_in`` counts incoming
    links per trace when the caller knows them.

    >>> a = SpanRecord("1" * 32, "a" * 16, "root", 10, 50, service="api", status_code=2)
    >>> b = SpanRecord("1" * 32, "b" * 16, "child", 20, 30, parent_span_id="a" * 16)
    >>> row = summarise_traces([b, a])[0]
    >>> row.root_name, row.root_service, row.span_count, row.error_count, row.duration
    ('root', 'api', 2, 1, 40)
    """
    by_trace: dict[str, list[SpanRecord]] = defaultdict(list)
    for span in spans:
        by_trace[span.trace_id].append(span)
    rows = []
    for trace_id, members in by_trace.items():
        root = min(members, key=lambda s: (bool(s.parent_span_id), s.start, s.span_id))
        rows.append(
            TraceRecord(
                trace_id=trace_id,
                root_service=root.service,
                root_name=root.name,
                start=min(s.start for s in members),
                end=max(s.end for s in members),
                span_count=len(members),
                error_count=sum(1 for s in members if s.status_code == StatusCode.ERROR),
                links_out=sum(1 for s in members for lk in s.links if not lk.invalid),
                links_in=(links_in or {}).get(trace_id, 0),
            )
        )
    rows.sort(key=lambda r: (-r.start, r.trace_id))
    return rows
