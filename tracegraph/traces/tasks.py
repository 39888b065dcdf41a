"""Celery tasks: entry points that parse their arguments and call a service.

Every task takes ids and paths, never objects; is idempotent (the store
upserts on ``(trace_id, span_id)``, so a task run twice stores nothing
twice); is acknowledged late and rejected when its worker dies, so a
worker killed mid-task loses nothing: the broker hands the message to
another worker after the visibility timeout. Only errors a later try can
fix are retried: an unreachable database or Redis, a locked SQLite file.
A body that does not parse will not parse next time either.

Queues and the beat schedule are in :mod:`tracegraph.celery`.
"""

from __future__ import annotations

import logging
import shutil
import time
from pathlib import Path
from typing import Any

import orjson
import redis
from celery import Task
from django.conf import settings
from django.db import OperationalError

from tracegraph.celery import app
from tracegraph.domain import ParseResult
from tracegraph.ingest.errors import ParseError
from tracegraph.ingest.otlp_json import parse_otlp_json
from tracegraph.ingest.otlp_proto import parse_otlp_protobuf
from tracegraph.traces import remote
from tracegraph.traces.imports import ImportSummary, trace_body_import
from tracegraph.traces.jobs import ingest_body_drop, ingest_body_get, job_get, job_update
from tracegraph.traces.services import trace_batch_ingest, traces_purge

__all__ = ["fetch_trace", "graph_prefetch", "import_file", "ingest_batch", "purge_expired"]

log = logging.getLogger(__name__)

PROTOBUF = "application/x-protobuf"
# Errors a retry can fix: the database or Redis is down or busy.
TRANSIENT = (OperationalError, redis.ConnectionError, redis.TimeoutError)
_ENTRY = {"ignore_result": True, "acks_late": True, "reject_on_worker_lost": True}


def _parse_otlp(body: bytes, content_type: str) -> ParseResult:
    """Parse a body the receiver already validated, the way it did."""
    if content_type == PROTOBUF:
        return parse_otlp_protobuf(body)
    data: Any = orjson.loads(body)
    if not isinstance(data, dict):
        raise ParseError("body is not an OTLP ExportTraceServiceRequest object")
    return parse_otlp_json(data)


@app.task(
    name="traces.ingest_batch",
    autoretry_for=TRANSIENT,
    retry_backoff=True,  # 1 s, 2 s, 4 s ... capped at 10 min: ~1 h of outage
    max_retries=10,
    **_ENTRY,
)
def ingest_batch(body_key: str, content_type: str) -> int:
    """Store the OTLP body the receiver left in Redis under ``body_key``.

    The body is deleted only after its spans are committed, so a redelivered
    task finds it again; a body already gone was stored by an earlier run.
    Returns the number of spans stored.
    """
    body = ingest_body_get(body_key)
    if body is None:
        log.info("ingest %s: body already stored or expired; nothing to do", body_key)
        return 0
    try:
        result = _parse_otlp(body, content_type)
    except (ParseError, orjson.JSONDecodeError) as exc:
        # The receiver parsed this body before queueing it; a retry cannot help.
        log.error("ingest %s: dropping a body that does not parse: %s", body_key, exc)
        ingest_body_drop(body_key)
        return 0
    stored = trace_batch_ingest(spans=result.spans)
    ingest_body_drop(body_key)
    return stored.spans


class _Progress:
    """Per-batch progress of a job, as a percentage of the bytes to import."""

    def __init__(self, job_id: str, summary: ImportSummary, total_bytes: int) -> None:
        self.job_id, self.summary, self.total = job_id, summary, max(total_bytes, 1)
        self.finished = 0  # bytes of the files already imported
        self.size = 0  # bytes of the file being imported

    def __call__(self, done: int, count: int) -> None:
        share = self.size * done / max(count, 1)
        job_update(
            job_id=self.job_id,
            percent=round(min(99.9, 100 * (self.finished + share) / self.total), 1),
            spans=self.summary.spans,
            traces=len(self.summary.traces),
            links=self.summary.links,
        )


@app.task(name="traces.import_file", bind=True, max_retries=5, **_ENTRY)
def import_file(self: Task, job_id: str, paths: list[str], cleanup: str = "") -> None:
    """Import trace files for job ``job_id``, reporting progress on the job.

    ``cleanup``: a folder under ``TRACEGRAPH_UPLOAD_DIR`` (an upload's) to
    delete once the job is done. Re-running a done job does nothing more.
    """
    job = job_get(job_id=job_id)
    if job is not None and job["state"] == "done":
        _remove_upload(cleanup)  # redelivered after it finished
        return
    try:
        _import(job_id, [Path(p) for p in paths])
    except TRANSIENT as exc:
        if self.request.retries >= self.max_retries:
            job_update(job_id=job_id, state="failed", message=f"the trace store failed: {exc}")
            raise
        job_update(job_id=job_id, message="the trace store is busy or down; retrying")
        raise self.retry(exc=exc, countdown=2 ** (self.request.retries + 1)) from None
    except Exception as exc:
        job_update(job_id=job_id, state="failed", message=f"import failed: {exc}")
        raise
    _remove_upload(cleanup)


def _import(job_id: str, files: list[Path]) -> None:
    summary = ImportSummary()
    sizes = [f.stat().st_size if f.is_file() else 0 for f in files]
    progress = _Progress(job_id, summary, sum(sizes))
    job_update(
        job_id=job_id, state="running", percent=0.0, message=f"importing {len(files)} file(s)"
    )
    for file, size in zip(files, sizes, strict=True):
        progress.size = size
        try:
            body = file.read_bytes()
        except OSError as exc:
            summary.files += 1
            summary.failed_files.append(file.name)
            summary.errors.append(f"{file.name}: {exc.strerror or exc}")
            continue
        trace_body_import(body=body, name=file.name, summary=summary, on_progress=progress)
        progress.finished += size
    job_update(
        job_id=job_id,
        state="done",
        percent=100.0,
        message=summary.as_text(),
        errors=summary.errors[:20],
        spans=summary.spans,
        traces=len(summary.traces),
        links=summary.links,
        rejected=summary.rejected,
        files=summary.files,
        failed_files=summary.failed_files,
    )


def _remove_upload(folder: str) -> None:
    if not folder:
        return
    path = Path(folder).resolve()
    # Only ever an upload's own folder: never a path a caller asked to import.
    if Path(settings.TRACEGRAPH_UPLOAD_DIR).resolve() in path.parents:
        shutil.rmtree(path, ignore_errors=True)


@app.task(
    name="traces.purge_expired",
    autoretry_for=TRANSIENT,
    retry_backoff=True,
    max_retries=5,
    **_ENTRY,
)
def purge_expired() -> int:
    """Delete traces that ended more than ``TRACEGRAPH_RETENTION_DAYS`` ago (0: keep all)."""
    days = settings.TRACEGRAPH_RETENTION_DAYS
    if days <= 0:
        return 0
    cutoff = time.time_ns() - days * 86_400 * 10**9
    purged = traces_purge(older_than_ns=cutoff)
    log.info("purged %d traces older than %d days", purged, days)
    return purged


# A graph request waits for these, so the result is read (ignore_result=False)
# and not retried (a retry would outlast the wait). Acknowledged on receipt:
# redelivered after the visibility timeout, the page would be long gone.
@app.task(name="backends.fetch_trace", ignore_result=False, acks_late=False)
def fetch_trace(backend_name: str, trace_id: str) -> remote.FetchOutcome:
    """Fetch one trace from the remote backend ``backend_name`` into the cache.

    The spans go to the cache, not into the result: the result is the small
    :class:`~tracegraph.traces.remote.FetchOutcome` (ok, missing, or failed
    with the backend's message) that the waiting request reads.
    """
    return remote.trace_fetch_by_name(backend_name=backend_name, trace_id=trace_id)


@app.task(name="traces.graph_prefetch", **_ENTRY)
def graph_prefetch(
    job_id: str,
    trace_id: str,
    depth: int,
    direction: str,
    max_traces: int,
    max_spans: int,
) -> None:
    """Fetch a graph's neighbourhood into the cache for job ``job_id``, with progress.

    Idempotent: it only fills the cache; a job already finished is left alone.
    """
    if remote.graph_prefetch_done(job_id):
        return
    try:
        remote.graph_prefetch(
            job_id=job_id,
            trace_id=trace_id,
            depth=depth,
            direction=direction,  # type: ignore[arg-type]
            max_traces=max_traces,
            max_spans=max_spans,
        )
    except Exception as exc:
        job_update(job_id=job_id, state="failed", message=f"fetching the graph failed: {exc}")
        raise
