"""Fixtures for the backend tests: a real local HTTP server, fresh backend instances."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tracegraph.backends import clear_backend_cache

from .server import backend_server

__all__ = ["backend_server"]  # the fixture, defined beside the server it starts


@pytest.fixture(autouse=True)
def _fresh_backends() -> Iterator[None]:
    clear_backend_cache()
    yield
    clear_backend_cache()
