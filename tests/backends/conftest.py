"""Fixtures for the backend tests: a real local HTTP server, fresh backend instances."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tracegraph.backends import clear_backend_cache

from .server import FakeBackendServer, start_server


@pytest.fixture
def backend_server() -> Iterator[FakeBackendServer]:
    """A server for this test; route paths to fixture files, then assert on its requests."""
    state, httpd, thread = start_server()
    try:
        yield state
    finally:
        state.stopping.set()
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)


@pytest.fixture(autouse=True)
def _fresh_backends() -> Iterator[None]:
    clear_backend_cache()
    yield
    clear_backend_cache()
