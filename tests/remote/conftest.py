"""A Jaeger on a real local HTTP server, and (for the worker tests) Redis and a worker.

The server replays the recorded Jaeger body ``jaeger_uimodel_ui_01.json``
and Jaeger v1 answers built by :mod:`.jaeger` in the same shape; the tests
count its requests to prove what was (not) asked twice.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.core.cache import caches
from django.core.cache.backends.locmem import LocMemCache

from tests.backends.server import FakeBackendServer, backend_server
from tests.tasks.conftest import Broker, Finished, broker, redis_url, worker
from tracegraph.backends import clear_backend_cache
from tracegraph.celery import app

__all__ = ["backend_server", "broker", "redis_url", "worker"]  # fixtures shared with other folders

TIMEOUT_S = 1


@pytest.fixture(autouse=True)
def _fresh_backends_and_cache() -> Iterator[None]:
    """New backend instances and an empty local cache: no test sees another's traces."""

    def clear() -> None:
        clear_backend_cache()
        local = caches["default"]
        if isinstance(local, LocMemCache):  # never FLUSHDB a shared Redis
            local.clear()

    clear()
    yield
    clear()


@pytest.fixture
def jaeger(backend_server: FakeBackendServer, settings: Any) -> FakeBackendServer:
    """``TRACEGRAPH_BACKEND=jaeger`` pointed at the local server, 1 s timeout."""
    settings.TRACEGRAPH_BACKEND = "jaeger"
    settings.TRACEGRAPH_JAEGER_URL = backend_server.url
    settings.TRACEGRAPH_BACKEND_TIMEOUT = TIMEOUT_S
    return backend_server


def _reset_result_backend() -> None:
    app._backend_cache = None
    app._local.__dict__.pop("backend", None)


@pytest.fixture
def results(broker: Broker) -> Iterator[Broker]:
    """Celery results in this test's Redis (the graph request reads fetch results)."""
    before = app.conf.result_backend
    app.conf.result_backend = broker.url
    _reset_result_backend()
    try:
        yield broker
    finally:
        app.conf.result_backend = before
        _reset_result_backend()


@pytest.fixture
def celery_worker(results: Broker, request: pytest.FixtureRequest) -> Finished:
    """A real worker (see tests/tasks/conftest.py), started after results are configured."""
    started: Finished = request.getfixturevalue("worker")
    return started
