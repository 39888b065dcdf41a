"""A real Redis and a real Celery worker for the background-work tests.

Each test gets its own Redis names (``TRACEGRAPH_REDIS_PREFIX``: queues,
queued bodies, cache keys) on Redis database 5, so two checkouts can run the
suite at once, nothing leaks into the database a developer's own worker
uses, and a test deletes all it made. Redis is
``TRACEGRAPH_TEST_REDIS_URL`` (default ``redis://127.0.0.1:6379/5``); when
it is not reachable the tests skip (laptop) or fail (CI), see
``service_missing``.
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest
import redis
from celery import signals
from celery.contrib.testing.worker import start_worker

from tests.conftest import service_missing
from tracegraph.celery import QUEUE_KINDS, app, queue_name

REDIS_URL = os.environ.get("TRACEGRAPH_TEST_REDIS_URL", "redis://127.0.0.1:6379/5")
# Redelivery of a message whose worker died comes this many seconds after it
# was taken: short, so the kill test is quick.
VISIBILITY_TIMEOUT = 2


def _reset_producers() -> None:
    """Forget the producer pools made for the previous broker URL.

    Not closed: kombu keeps them in a process-wide registry and hands the
    same pool out again for the same URL.
    """
    app._pool = None
    if "amqp" in app.__dict__:
        app.amqp._producer_pool = None


@dataclass
class Broker:
    url: str
    prefix: str
    client: redis.Redis
    settings: Any

    def queue(self, kind: str) -> str:
        return queue_name(kind)

    def length(self, kind: str) -> int:
        return int(self.client.llen(self.queue(kind)))


@pytest.fixture(scope="session")
def redis_url() -> str:
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping()
    except redis.RedisError as exc:
        service_missing(
            f"Redis at {REDIS_URL} is not reachable ({exc}); start it with `redis-server "
            '--daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no`'
        )
    return REDIS_URL


@pytest.fixture
def broker(redis_url: str, settings: Any) -> Iterator[Broker]:
    """Celery and the receiver pointed at Redis, on queues of this test only."""
    prefix = f"tgtest-{uuid.uuid4().hex[:10]}"
    settings.REDIS_URL = redis_url
    settings.TRACEGRAPH_REDIS_PREFIX = prefix
    settings.TRACEGRAPH_INGEST_ASYNC = True
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": redis_url,
            "KEY_PREFIX": prefix,  # as settings.py does: a subprocess worker reads the same jobs
        }
    }
    client = redis.Redis.from_url(redis_url)
    try:
        with celery_broker(redis_url):
            yield Broker(redis_url, prefix, client, settings)
    finally:
        for key in client.scan_iter(f"*{prefix}*", count=1000):
            client.delete(key)
        client.close()


@contextmanager
def celery_broker(url: str) -> Iterator[None]:
    """Celery sending to the broker at ``url`` instead of running tasks inline."""
    changes = {
        "broker_url": url,
        "task_always_eager": False,
        "broker_transport_options": {
            "visibility_timeout": VISIBILITY_TIMEOUT,
            "socket_connect_timeout": 2,
        },
    }
    before = {key: app.conf[key] for key in changes}
    app.conf.update(changes)
    _reset_producers()
    try:
        yield
    finally:
        app.conf.update(before)
        _reset_producers()


@dataclass
class Finished:
    """Tasks the embedded worker finished, to wait on without polling the database."""

    names: list[str] = field(default_factory=list)
    cond: threading.Condition = field(default_factory=threading.Condition)

    def add(self, name: str) -> None:
        with self.cond:
            self.names.append(name)
            self.cond.notify_all()

    def wait(self, name: str, count: int = 1, timeout: float = 15) -> None:
        with self.cond:
            done = self.cond.wait_for(lambda: self.names.count(name) >= count, timeout)
        assert done, f"{name} finished {self.names.count(name)} time(s), expected {count}"


@pytest.fixture
def worker(broker: Broker) -> Iterator[Finished]:
    """A real Celery worker in a thread of this process, consuming this test's queues.

    It shares the test database (SQLite in shared memory or PostgreSQL), so
    tests using it are ``django_db(transaction=True)``. Wait for its tasks
    with ``worker.wait(name)`` before reading the database: SQLite's shared
    in-memory database locks whole tables between threads.
    """
    finished = Finished()

    def on_postrun(sender: Any = None, **kwargs: Any) -> None:
        # Only the worker's thread counts: a task run inline would not prove a thing.
        if threading.current_thread() is not threading.main_thread():
            finished.add(sender.name)

    signals.task_postrun.connect(on_postrun, weak=False)
    try:
        with start_worker(
            app,
            perform_ping_check=False,
            queues=[queue_name(kind) for kind in QUEUE_KINDS],
            loglevel="WARNING",
            shutdown_timeout=15,
        ):
            yield finished
    finally:
        signals.task_postrun.disconnect(on_postrun)


def wait_until(check: Any, timeout: float = 15, every: float = 0.02, explain: Any = None) -> Any:
    """Poll ``check()`` until it is truthy; on timeout fail with ``explain()``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(every)
    detail = explain() if explain else ""
    raise AssertionError(f"timed out after {timeout} s waiting for {check}\n{detail}")
