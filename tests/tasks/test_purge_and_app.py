"""Retention purge (beat, daily) and the Celery app's queues and routes."""

from __future__ import annotations

import time

import pytest

from tests.builders import T0, sid, span, tid
from tests.tasks.conftest import Broker
from tracegraph.celery import app, queue_name
from tracegraph.traces.models import Span, Trace
from tracegraph.traces.services import trace_batch_ingest
from tracegraph.traces.tasks import purge_expired

DAY_NS = 86_400 * 10**9


def _store_trace(n: int, *, days_ago: float) -> None:
    start = time.time_ns() - int(days_ago * DAY_NS) - T0
    trace_batch_ingest(spans=[span(tid(n), sid(1), start=start), span(tid(n), sid(2), start=start)])


@pytest.mark.django_db
def test_the_purge_removes_only_traces_older_than_the_retention(settings):
    _store_trace(1, days_ago=30)
    _store_trace(2, days_ago=8)
    _store_trace(3, days_ago=6)
    _store_trace(4, days_ago=0)
    settings.TRACEGRAPH_RETENTION_DAYS = 0  # keep forever
    assert purge_expired.delay().get() == 0
    assert Trace.objects.count() == 4

    settings.TRACEGRAPH_RETENTION_DAYS = 7
    assert purge_expired.delay().get() == 2
    assert sorted(Trace.objects.values_list("trace_id", flat=True)) == [tid(3), tid(4)]
    assert Span.objects.count() == 4
    assert purge_expired.delay().get() == 0  # idempotent


def test_beat_runs_the_purge_daily():
    entry = app.conf.beat_schedule["purge-expired-traces"]
    assert entry["task"] == "traces.purge_expired"
    schedule = entry["schedule"]
    assert schedule.hour == {3} and schedule.minute == {17}
    assert schedule.day_of_week == set(range(7))


def test_each_task_has_its_queue_and_is_acked_late(broker: Broker):
    expected = {
        "traces.ingest_batch": "ingest",
        "traces.import_file": "imports",
        "traces.purge_expired": "maintenance",
    }
    for name, kind in expected.items():
        task = app.tasks[name]
        route = app.amqp.router.route({}, name)
        assert route["queue"].name == queue_name(kind) == f"{broker.prefix}.{kind}"
        assert task.acks_late and task.reject_on_worker_lost and task.ignore_result
    # What beat sends lands on the maintenance queue, where a worker takes it.
    app.send_task("traces.purge_expired")
    assert broker.length("maintenance") == 1
