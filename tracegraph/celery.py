"""The Celery app: configured from Django settings (``CELERY_*``).

The queues, the routes and the beat schedule are defined here and only here
(STYLE rule 9). Start a worker with ``make worker`` and the scheduler with
``make beat``. Without ``REDIS_URL`` tasks run inline (eager) in the calling
process, so the embedded default needs neither Redis nor a worker.

Five queues, so that one kind of work never waits behind another:

- ``<prefix>.ingest``: batches from the OTLP receiver in async mode. Its
  length is the receiver's back-pressure signal, so nothing else goes there.
- ``<prefix>.imports``: uploads and large imports (long tasks).
- ``<prefix>.maintenance``: the daily retention purge.
- ``<prefix>.fetch``: one trace from a remote backend into the cache
  (``backends.fetch_trace``), while a graph request waits for it: short
  tasks that must never queue behind an import.
- ``<prefix>.graphs``: fetching a whole neighbourhood in the background with
  a progress bar (``traces.graph_prefetch``); a long one waits here, not in
  front of the fetches a page is blocked on.

``<prefix>`` is ``TRACEGRAPH_REDIS_PREFIX`` (default ``tracegraph``).
"""

from __future__ import annotations

import os
from typing import Any

from celery import Celery
from celery.schedules import crontab
from kombu import Exchange, Queue

__all__ = ["QUEUE_KINDS", "app", "queue_name"]

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tracegraph.settings")

app = Celery("tracegraph", include=["tracegraph.traces.tasks"])
app.config_from_object("django.conf:settings", namespace="CELERY")

QUEUE_KINDS = ("ingest", "imports", "maintenance", "fetch", "graphs")
# task name -> queue kind
ROUTES = {
    "traces.ingest_batch": "ingest",
    "traces.import_file": "imports",
    "traces.purge_expired": "maintenance",
    "backends.fetch_trace": "fetch",
    "traces.graph_prefetch": "graphs",
}


def queue_name(kind: str) -> str:
    """The broker queue of one kind of work, e.g. ``tracegraph.ingest``."""
    from django.conf import settings

    if kind not in QUEUE_KINDS:
        raise ValueError(f"unknown queue kind {kind!r}; one of {QUEUE_KINDS}")
    return f"{settings.TRACEGRAPH_REDIS_PREFIX}.{kind}"


def _queue(kind: str) -> Queue:
    name = queue_name(kind)
    # The same shape Celery gives a queue it creates on demand.
    return Queue(name, Exchange(name, type="direct"), routing_key=name)


def route_task(name: str, args: Any, kwargs: Any, options: Any, task: Any = None, **kw: Any):  # type: ignore[no-untyped-def]
    """Celery router: the queue is looked up when a task is sent, not at import."""
    kind = ROUTES.get(name)
    return {"queue": _queue(kind)} if kind else None


app.conf.update(
    # A worker started without -Q consumes every queue listed here.
    task_queues=[_queue(kind) for kind in QUEUE_KINDS],
    task_default_queue=queue_name("maintenance"),
    task_routes=(route_task,),
    beat_schedule={
        "purge-expired-traces": {
            "task": "traces.purge_expired",
            # Daily, at a quiet hour (UTC). A no-op with TRACEGRAPH_RETENTION_DAYS=0.
            "schedule": crontab(hour=3, minute=17),
        },
    },
)
