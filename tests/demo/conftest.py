"""The demo, sent once per module by the SDK through ``embedded_receiver``."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from tracegraph.traces.demo import DemoSummary, demo_send, embedded_receiver
from tracegraph.traces.models import Span, SpanLink, Trace


@pytest.fixture(scope="module")
def demo(django_db_setup: None, django_db_blocker: pytest.FixtureRequest) -> Iterator[DemoSummary]:
    with django_db_blocker.unblock():  # type: ignore[attr-defined]
        with embedded_receiver() as url:
            summary = demo_send(endpoint=url, now_ns=time.time_ns())
        yield summary
        # Committed by the receiver's threads, outside any test transaction.
        SpanLink.objects.all().delete()
        Span.objects.all().delete()
        Trace.objects.all().delete()
