"""What the background tasks share with the web: queued bodies and job progress.

Ingest bodies wait in Redis, not in the task message. The receiver stores
the decoded body under a key named by its hash and queues only that key:

- the message stays a few bytes, whatever the body (up to 64 MiB): no
  base64 (+33 %) and no JSON-encoding of it on every delivery and
  redelivery, and the queue length counts batches, not bytes;
- the task takes an id, not an object (STYLE rule 9);
- the same body sent twice lands on the same key, and storing it twice
  stores nothing new (the store upserts on ``(trace_id, span_id)``).

Progress of long jobs (imports, uploads) is a small dict in Django's cache:
Redis in production, shared by web and workers; the local-memory cache in
the embedded default, where the task runs inline in the same process.
"""

from __future__ import annotations

import functools
import hashlib
import time
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Literal, Protocol, TypedDict
from urllib.parse import urlsplit

import redis
from django.conf import settings
from django.core.cache import cache

from tracegraph.celery import queue_name

__all__ = [
    "JobDict",
    "QueueFull",
    "QueueUnavailable",
    "ingest_body_drop",
    "ingest_body_get",
    "ingest_body_stash",
    "ingest_queue_length",
    "job_create",
    "job_get",
    "job_update",
    "upload_files_save",
]

# Long enough to outlast any backlog the queue limit allows; then Redis frees it.
BODY_TTL_S = 7 * 24 * 3600
JOB_TTL_S = 24 * 3600


class QueueUnavailable(Exception):
    """Redis (the broker) cannot be reached: the caller should answer 503."""


class QueueFull(Exception):
    """The ingest queue is at its limit: the caller should answer 503."""


def _where(url: str) -> str:
    """``host:port/db`` of a Redis URL, without the password."""
    parts = urlsplit(url)
    return f"{parts.hostname or 'localhost'}:{parts.port or 6379}{parts.path or ''}"


@functools.lru_cache(maxsize=4)
def _client(url: str) -> redis.Redis:
    # Short timeouts: a receiver must answer 503 quickly when Redis is down.
    return redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=5)


def _redis() -> redis.Redis:
    if not settings.REDIS_URL:
        raise QueueUnavailable("no REDIS_URL is set: background ingest needs Redis")
    return _client(settings.REDIS_URL)


def _unavailable(exc: Exception) -> QueueUnavailable:
    return QueueUnavailable(
        f"the ingest queue (Redis at {_where(settings.REDIS_URL)}) is unreachable ({exc})"
    )


def _body_key(digest: str) -> str:
    return f"{queue_name('ingest')}:body:{digest}"


def ingest_queue_length() -> int:
    """Batches waiting in the ingest queue (Redis ``LLEN`` of the queue's list)."""
    try:
        return int(_redis().llen(queue_name("ingest")))
    except redis.RedisError as exc:
        raise _unavailable(exc) from None


def ingest_body_stash(*, body: bytes, content_type: str) -> str:
    """Keep ``body`` in Redis for an ingest task; returns its key.

    Raises :class:`QueueFull` when ``TRACEGRAPH_INGEST_QUEUE_LIMIT`` batches
    already wait (checked, not reserved: concurrent receivers may pass the
    limit by a few), :class:`QueueUnavailable` when Redis is down.
    """
    waiting = ingest_queue_length()
    limit = settings.TRACEGRAPH_INGEST_QUEUE_LIMIT
    if waiting >= limit:
        raise QueueFull(f"the ingest queue holds {waiting} batches (limit {limit}); retry later")
    digest = hashlib.sha256(content_type.encode() + b"\0" + body).hexdigest()
    key = _body_key(digest)
    try:
        _redis().set(key, body, ex=BODY_TTL_S)
    except redis.RedisError as exc:
        raise _unavailable(exc) from None
    return key


def ingest_body_get(key: str) -> bytes | None:
    """The stashed body, or None when it was already stored (or expired)."""
    value = _redis().get(key)
    return bytes(value) if value is not None else None  # type: ignore[arg-type]


def ingest_body_drop(key: str) -> None:
    _redis().delete(key)


# --- job progress -----------------------------------------------------------

JobState = Literal["queued", "running", "done", "failed"]


class JobDict(TypedDict):
    """A long job as ``GET /api/jobs/<id>`` returns it."""

    id: str
    kind: str
    state: JobState
    percent: float
    message: str
    errors: list[str]
    spans: int
    traces: int
    links: int
    rejected: int
    files: int
    failed_files: list[str]
    updated_at: float


def _job_key(job_id: str) -> str:
    return f"job:{job_id}"


def _new_job(job_id: str, kind: str, message: str) -> JobDict:
    return {
        "id": job_id,
        "kind": kind,
        "state": "queued",
        "percent": 0.0,
        "message": message,
        "errors": [],
        "spans": 0,
        "traces": 0,
        "links": 0,
        "rejected": 0,
        "files": 0,
        "failed_files": [],
        "updated_at": time.time(),
    }


def job_create(*, kind: str, message: str = "waiting for a worker") -> JobDict:
    """A new queued job with a fresh id, saved."""
    job = _new_job(uuid.uuid4().hex, kind, message)
    cache.set(_job_key(job["id"]), job, JOB_TTL_S)
    return job


def job_get(*, job_id: str) -> JobDict | None:
    job: JobDict | None = cache.get(_job_key(job_id))
    return job


def job_update(*, job_id: str, **changes: object) -> JobDict:
    """Merge ``changes`` into the job; a job that expired is recreated."""
    job = job_get(job_id=job_id) or _new_job(job_id, "import", "")
    job.update(changes)  # type: ignore[typeddict-item]
    job["updated_at"] = time.time()
    cache.set(_job_key(job_id), job, JOB_TTL_S)
    return job


class _Upload(Protocol):
    name: str | None

    def chunks(self) -> Iterator[bytes]: ...


def upload_files_save(*, job_id: str, files: Iterable[_Upload]) -> tuple[Path, list[Path]]:
    """Write uploaded files where an import task can read them.

    Returns the job's folder (to delete when the job is done) and the files,
    each in a numbered subfolder so that two uploads of one name both stay.
    """
    folder = Path(settings.TRACEGRAPH_UPLOAD_DIR) / job_id
    paths = []
    for i, upload in enumerate(files):
        # The browser's name, without any folder part it may carry.
        name = Path(upload.name or "upload").name or "upload"
        target = folder / str(i) / name
        target.parent.mkdir(parents=True, exist_ok=True)
        with target.open("wb") as out:
            for chunk in upload.chunks():
                out.write(chunk)
        paths.append(target)
    return folder, paths
