"""Traces from a remote backend (Jaeger, Tempo): fetched in parallel, cached, allowed to fail.

A graph over a remote backend asks it for every trace of the neighbourhood,
level by level. :class:`CachedSource` is the graph's ``TraceSource`` for such
a backend (``graph_source()`` wraps it; the local store is read as is):

- each trace is read from Django's cache first (Redis when ``REDIS_URL`` is
  set, shared by web and workers), under a key naming the backend, its URL
  and the trace id, for ``TRACEGRAPH_TRACE_CACHE_TTL`` seconds; so clicking
  back and forth in the graph asks the backend nothing;
- the traces not in the cache are fetched in parallel: as a Celery group of
  ``backends.fetch_trace`` when workers run the tasks, else (tasks inline,
  or inside a worker already) in a thread pool;
- a trace that fails (timeout, 5xx, refused) does not fail the graph: it is
  recorded in ``source.failed[trace_id]`` and has no spans, so the links
  into it are ghost nodes and the API answers a partial graph that says
  which traces are missing and why. A failing ``links_into`` sets
  ``source.incoming_error`` and makes ``incoming_known`` False.

A trace the backend does not have is cached as empty, for at most
:data:`NOT_FOUND_TTL_S`: late traces show up soon, a dangling link is not
asked for on every click. Failures are never cached.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from typing import Any, Literal, TypedDict

import redis
from celery.exceptions import TimeoutError as CeleryTimeout
from django.conf import settings
from django.core.cache import cache
from kombu.exceptions import OperationalError as KombuOperationalError

from tracegraph.backends import (
    BackendError,
    BackendUnavailable,
    TraceBackend,
    TraceNotFound,
    get_backend,
)
from tracegraph.backends._http import DEFAULT_TIMEOUT
from tracegraph.backends._remote import MAX_PARALLEL_FETCHES
from tracegraph.celery import app
from tracegraph.domain.ids import normalize_trace_id
from tracegraph.domain.records import LinkRecord, SpanRecord
from tracegraph.graphs.expand import Direction, expand
from tracegraph.traces.jobs import job_get, job_update

__all__ = [
    "INCOMING_UNKNOWN",
    "NOT_FOUND_TTL_S",
    "REMOTE_BACKENDS",
    "CachedSource",
    "FetchOutcome",
    "NotCached",
    "backend_where",
    "graph_prefetch",
    "graph_prefetch_done",
    "incoming_message",
    "is_remote",
    "neighbourhood_cached",
    "trace_fetch",
    "trace_fetch_by_name",
    "unavailable_banner",
]

log = logging.getLogger(__name__)

#: Backends read over HTTP: worth a cache and parallel fetches. ``local``
#: reads the database, ``otlp-file`` an in-memory index of a file.
REMOTE_BACKENDS = frozenset({"jaeger", "tempo"})
#: Longest time a "the backend does not have this trace" answer is reused.
NOT_FOUND_TTL_S = 60
#: What the API says when the backend cannot list incoming links at all.
INCOMING_UNKNOWN = "incoming links unknown for this backend"

_CACHE_ERRORS = (redis.RedisError, ConnectionError, TimeoutError)

ProgressCallback = Callable[[int, int], None]


class NotCached(Exception):
    """A cache-only :class:`CachedSource` was asked for something not in the cache."""


class FetchOutcome(TypedDict):
    """What fetching one trace came to; the result of ``backends.fetch_trace``."""

    trace_id: str
    state: Literal["ok", "missing", "failed"]
    message: str
    unavailable: bool  # failed because the backend did not answer (timeout, 5xx)


def is_remote(backend: TraceBackend) -> bool:
    """True for a backend read over HTTP (see :data:`REMOTE_BACKENDS`)."""
    return backend.name in REMOTE_BACKENDS


def _base_url(backend: TraceBackend) -> str:
    client = getattr(backend, "client", None)
    return str(getattr(client, "base_url", ""))


def backend_where(backend: TraceBackend) -> str:
    """``"Jaeger at http://jaeger:16686"``, or the backend's name."""
    client = getattr(backend, "client", None)
    url = _base_url(backend)
    return f"{getattr(client, 'label', backend.name)} at {url}" if url else backend.name


def _key(backend: TraceBackend, kind: str, trace_id: str) -> str:
    # The URL is part of the key: pointing TRACEGRAPH_JAEGER_URL at another
    # Jaeger must not show the first one's traces.
    where = hashlib.sha1(_base_url(backend).encode()).hexdigest()[:8]
    return f"tg:{kind}:{backend.name}:{where}:{trace_id}"


def _ttl() -> int:
    return int(getattr(settings, "TRACEGRAPH_TRACE_CACHE_TTL", 300))


def _cache_get(keys: dict[str, str]) -> dict[str, Any]:
    """``{trace_id: value}`` for the keys (``{trace_id: key}``) found; a cache down is a miss."""
    if not keys:
        return {}
    try:
        found = cache.get_many(list(keys.values()))
    except _CACHE_ERRORS as exc:
        log.warning("the trace cache is unreachable, fetching instead: %s", exc)
        return {}
    return {t: found[k] for t, k in keys.items() if k in found}


def _cache_set(values: dict[str, Any], ttl: int) -> None:
    if not values or ttl <= 0:
        return
    try:
        cache.set_many(values, ttl)
    except _CACHE_ERRORS as exc:
        log.warning("the trace cache is unreachable, not caching: %s", exc)


def _get(backend: TraceBackend, trace_id: str) -> tuple[FetchOutcome, list[SpanRecord]]:
    """Ask the backend for one trace; a backend error is reported, not raised."""
    try:
        spans = backend.get_trace(trace_id)
    except TraceNotFound:
        return _outcome(trace_id, "missing"), []
    except BackendError as exc:
        unavailable = isinstance(exc, BackendUnavailable)
        return _outcome(trace_id, "failed", str(exc), unavailable=unavailable), []
    return _outcome(trace_id, "ok"), spans


def _store(backend: TraceBackend, outcome: FetchOutcome, spans: list[SpanRecord]) -> None:
    ttl = _ttl()
    key = _key(backend, "spans", outcome["trace_id"])
    if outcome["state"] == "ok":
        _cache_set({key: tuple(spans)}, ttl)
    elif outcome["state"] == "missing":
        _cache_set({key: ()}, min(ttl, NOT_FOUND_TTL_S))


def trace_fetch(*, backend: TraceBackend, trace_id: str) -> tuple[FetchOutcome, list[SpanRecord]]:
    """Fetch one trace and cache it; never raises a backend error, reports it.

    The outcome is ``ok`` (spans cached for the TTL), ``missing`` (the backend
    does not have it: cached as empty for at most :data:`NOT_FOUND_TTL_S`) or
    ``failed`` (nothing cached: the next request asks again).
    """
    outcome, spans = _get(backend, trace_id)
    _store(backend, outcome, spans)
    return outcome, spans


def _outcome(
    trace_id: str,
    state: Literal["ok", "missing", "failed"],
    message: str = "",
    *,
    unavailable: bool = False,
) -> FetchOutcome:
    return {"trace_id": trace_id, "state": state, "message": message, "unavailable": unavailable}


def trace_fetch_by_name(*, backend_name: str, trace_id: str) -> FetchOutcome:
    """:func:`trace_fetch` with the backend named, as a worker runs it."""
    outcome, _ = trace_fetch(backend=get_backend(backend_name), trace_id=trace_id)
    return outcome


class CachedSource:
    """A ``TraceSource`` over a remote backend: cached, fetched in parallel, partial on failure.

    Parameters
    ----------
    backend : TraceBackend
        A remote backend (:func:`is_remote`).
    workers : bool, optional
        Fetch through Celery workers (a group of ``backends.fetch_trace``);
        by default when tasks are not run inline. A task that itself expands
        a graph passes False: waiting on other tasks from inside a worker can
        take the very slot they need.
    cache_only : bool
        Raise :class:`NotCached` instead of fetching (is a neighbourhood
        ready to draw?).
    on_progress : callable, optional
        ``on_progress(done, total)`` as traces arrive: ``total`` counts the
        traces asked for so far, growing level by level.

    Attributes
    ----------
    failed : dict of str to str
        Trace id -> why it could not be fetched.
    errors : dict of str to BackendError
        The same failures as exceptions (to re-raise for the start trace).
    incoming_error : str
        Why the incoming links could not be read, or "".
    fetched : list of str
        Traces asked of the backend (not found in the cache) by this source.
    """

    def __init__(
        self,
        backend: TraceBackend,
        *,
        workers: bool | None = None,
        cache_only: bool = False,
        on_progress: ProgressCallback | None = None,
    ) -> None:
        self.backend = backend
        self.name = backend.name
        self.workers = (not app.conf.task_always_eager) if workers is None else workers
        self.cache_only = cache_only
        self.on_progress = on_progress
        self.failed: dict[str, str] = {}
        self.errors: dict[str, BackendError] = {}
        self.incoming_error = ""
        self.fetched: list[str] = []
        self.done = 0
        self.total = 0

    @property
    def incoming_known(self) -> bool:
        return bool(self.backend.incoming_known) and not self.incoming_error

    @property
    def where(self) -> str:
        return backend_where(self.backend)

    def _progress(self) -> None:
        if self.on_progress is not None:
            self.on_progress(self.done, self.total)

    # --- spans -------------------------------------------------------------

    def spans_of(self, trace_ids: Sequence[str]) -> list[SpanRecord]:
        ids = [t for t in dict.fromkeys(normalize_trace_id(t) for t in trace_ids) if t]
        found: dict[str, Sequence[SpanRecord]] = _cache_get(
            {t: _key(self.backend, "spans", t) for t in ids}
        )
        todo = [t for t in ids if t not in found]
        if todo and self.cache_only:
            raise NotCached(f"{len(todo)} of {len(ids)} traces are not cached")
        self.total += len(ids)
        self.done += len(ids) - len(todo)
        self._progress()
        if todo:
            self.fetched.extend(todo)
            found.update(self._fetch(todo))
        return [s for t in ids for s in found.get(t, ())]

    def _fetch(self, trace_ids: list[str]) -> dict[str, Sequence[SpanRecord]]:
        if self.workers:
            try:
                return self._fetch_by_workers(trace_ids)
            except (KombuOperationalError, *_CACHE_ERRORS) as exc:
                # The broker or the result store is down: the web process can
                # still ask the backend itself.
                log.warning("fetching %d traces without workers: %s", len(trace_ids), exc)
        return self._fetch_in_threads(trace_ids)

    def _record(self, outcome: FetchOutcome) -> None:
        self.done += 1
        if outcome["state"] == "failed":
            t, message = outcome["trace_id"], outcome["message"]
            self.failed[t] = message
            kind = BackendUnavailable if outcome["unavailable"] else BackendError
            self.errors[t] = kind(message)
        self._progress()

    def _fetch_in_threads(self, trace_ids: list[str]) -> dict[str, Sequence[SpanRecord]]:
        got: dict[str, Sequence[SpanRecord]] = {}
        workers = min(MAX_PARALLEL_FETCHES, len(trace_ids))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="tg-fetch") as pool:
            futures = [pool.submit(_get, self.backend, t) for t in trace_ids]
            for future in as_completed(futures):
                outcome, spans = future.result()
                # Cached from this thread: the pool's threads are short-lived,
                # and each would open its own connections to the cache.
                _store(self.backend, outcome, spans)
                got[outcome["trace_id"]] = spans
                self._record(outcome)
        return got

    def _wait_s(self) -> float:
        # A Jaeger fetch may ask two APIs (v3, then v1), each up to the timeout.
        timeout = float(getattr(getattr(self.backend, "client", None), "timeout", DEFAULT_TIMEOUT))
        return 2 * timeout + 5

    def _fetch_by_workers(self, trace_ids: list[str]) -> dict[str, Sequence[SpanRecord]]:
        from celery import group

        from tracegraph.traces.tasks import fetch_trace  # tasks import this module

        wait = self._wait_s()
        # expires: a fetch still queued when this request has given up is dropped.
        result = group(fetch_trace.s(self.name, t) for t in trace_ids).apply_async(expires=wait)
        outcomes: dict[str, FetchOutcome] = {}
        try:
            # One wait on the result store (Redis pub/sub), not a poll per
            # trace; on a timeout the ones not done are reported below.
            with contextlib.suppress(CeleryTimeout):
                result.get(
                    timeout=wait, propagate=False, interval=0.02, disable_sync_subtasks=False
                )
            for t, child in zip(trace_ids, result.results, strict=True):
                value = child.result if child.ready() else None
                if isinstance(value, dict):
                    outcomes[t] = value  # type: ignore[assignment]
                elif value is None:
                    outcomes[t] = _outcome(
                        t, "failed", f"no worker fetched it within {wait:g} s", unavailable=True
                    )
                else:  # the task raised
                    outcomes[t] = _outcome(t, "failed", f"{type(value).__name__}: {value}")
        finally:
            result.forget()
        # The workers left the spans in the cache; one round trip reads them all.
        ok = [t for t, o in outcomes.items() if o["state"] == "ok"]
        got: dict[str, Sequence[SpanRecord]] = _cache_get(
            {t: _key(self.backend, "spans", t) for t in ok}
        )
        for t in ok:
            if t not in got:
                outcomes[t] = _outcome(
                    t,
                    "failed",
                    "a worker fetched it but it is not in the cache: do the web and the "
                    "workers share REDIS_URL?",
                )
        for t in trace_ids:
            self._record(outcomes[t])
        return got

    # --- incoming links ----------------------------------------------------

    def links_into(self, trace_ids: Sequence[str]) -> list[LinkRecord]:
        if not self.backend.incoming_known:
            return []
        ids = [t for t in dict.fromkeys(normalize_trace_id(t) for t in trace_ids) if t]
        found: dict[str, Sequence[LinkRecord]] = _cache_get(
            {t: _key(self.backend, "links_into", t) for t in ids}
        )
        todo = [t for t in ids if t not in found]
        if todo and self.cache_only:
            raise NotCached(f"incoming links of {len(todo)} traces are not cached")
        if todo:
            try:
                links = self.backend.links_into(todo)
            except BackendError as exc:
                self.incoming_error = str(exc)
            else:
                by_target: dict[str, list[LinkRecord]] = {t: [] for t in todo}
                for link in links:
                    by_target.setdefault(link.linked_trace_id, []).append(link)
                fresh = {t: tuple(by_target[t]) for t in todo}
                _cache_set(
                    {_key(self.backend, "links_into", t): v for t, v in fresh.items()}, _ttl()
                )
                found.update(fresh)
        return [lk for t in ids for lk in found.get(t, ())]


def incoming_message(source: object) -> str:
    """Why forward expansion may have missed links, for the API; "" when it did not."""
    error = getattr(source, "incoming_error", "")
    if error:
        return f"incoming links could not be fetched: {error}"
    if not getattr(source, "incoming_known", True):
        return INCOMING_UNKNOWN
    return ""


def unavailable_banner(source: CachedSource, total: int) -> str:
    """One line for the page: how many traces are missing, from where, and why.

    ``"2 of 7 traces could not be fetched from Jaeger at http://jaeger:16686:
    did not answer within 10 s (GET /api/v3/traces/...)"``.
    """
    if not source.failed:
        return ""
    where = source.where
    reasons = list(dict.fromkeys(source.failed.values()))
    reason = reasons[0]
    if reason.startswith(where + " "):
        reason = reason[len(where) + 1 :]
    more = f" (and {len(reasons) - 1} other errors)" if len(reasons) > 1 else ""
    n = len(source.failed)
    return (
        f"{n} of {total} trace{'s' if total != 1 else ''} could not be fetched "
        f"from {where}: {reason}{more}"
    )


def neighbourhood_cached(
    *,
    backend: TraceBackend,
    trace_id: str,
    depth: int,
    direction: Direction,
    max_traces: int,
    max_spans: int,
) -> bool:
    """True when every trace (and incoming link) of the neighbourhood is in the cache."""
    try:
        expand(
            CachedSource(backend, cache_only=True),
            trace_id,
            depth=depth,
            direction=direction,
            max_traces=max_traces,
            max_spans=max_spans,
        )
    except NotCached:
        return False
    return True


def graph_prefetch(
    *,
    job_id: str,
    trace_id: str,
    depth: int,
    direction: Direction,
    max_traces: int,
    max_spans: int,
) -> None:
    """Fetch the neighbourhood of ``trace_id`` into the cache, reporting on job ``job_id``.

    The job carries ``done`` and ``total`` (traces; ``total`` grows as each
    level's links are followed), ``percent`` and a ``message``; it ends
    ``done`` (with ``unavailable``: trace id -> why, for traces that failed:
    the graph request asks for those again) or ``failed`` when the start
    trace itself cannot be read.
    """
    backend = get_backend()
    where = backend_where(backend)
    started = time.monotonic()

    def progress(done: int, total: int) -> None:
        job_update(
            job_id=job_id,
            state="running",
            done=done,
            total=total,
            traces=done,
            percent=round(min(99.0, 100 * done / max(total, 1)), 1),
            message=f"fetched {done} of {total} traces from {where}",
        )

    source = CachedSource(backend, workers=False, on_progress=progress)
    job_update(job_id=job_id, state="running", message=f"fetching from {where}")
    hood = expand(
        source,
        trace_id,
        depth=depth,
        direction=direction,
        max_traces=max_traces,
        max_spans=max_spans,
    )
    total = len(hood.traces)
    common: dict[str, Any] = {
        "done": source.done,
        "total": source.total,
        "traces": total,
        "unavailable": dict(source.failed),
        "errors": list(dict.fromkeys(source.failed.values()))[:20],
    }
    if trace_id in source.failed:
        job_update(job_id=job_id, state="failed", message=source.failed[trace_id], **common)
        return
    if trace_id in hood.missing:
        message = f"trace {trace_id} not found in {where}"
        job_update(job_id=job_id, state="failed", message=message, **common)
        return
    message = f"{total} traces ready in {time.monotonic() - started:.1f} s"
    if source.failed:
        message += "; " + unavailable_banner(source, total)
    job_update(job_id=job_id, state="done", percent=100.0, message=message, **common)


def graph_prefetch_done(job_id: str) -> bool:
    """True when the job already finished (a redelivered task does nothing)."""
    job = job_get(job_id=job_id)
    return job is not None and job["state"] in ("done", "failed")
