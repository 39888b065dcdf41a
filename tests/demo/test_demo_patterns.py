"""The detectors on the demo as the SDK sent it: one test per scenario.

Each scenario's focus trace is expanded three link hops both ways, exactly
as ``/api/graph`` does, and the detectors must find exactly the expected
finding with the expected members, and nothing on the plain traces. The
topologies are drawn in ``test_demo.py``.
"""

from __future__ import annotations

import pytest

from tracegraph.patterns import Finding
from tracegraph.traces.demo import DemoSummary
from tracegraph.traces.graph_service import GraphParams, trace_graph
from tracegraph.traces.models import Span

pytestmark = pytest.mark.django_db


def findings(demo: DemoSummary, scenario: str) -> list[Finding]:
    view = trace_graph(
        trace_id=demo.scenario(scenario).focus, params=GraphParams(depth=3, max_traces=100)
    )
    assert view is not None
    return view.patterns


def names(finding: Finding) -> list[str]:
    return sorted(Span.objects.get(trace_id=t, span_id=s).name for t, s in finding.spans)


def test_a_queue_consumer_is_an_async_trigger(demo: DemoSummary) -> None:
    (found,) = findings(demo, "message_queue")
    assert found.kind == "async_trigger"
    assert names(found) == ["process orders", "publish orders"]
    assert "ms after publish orders" in found.summary


def test_the_scheduled_job_is_a_scheduled_trigger_a_day_later(demo: DemoSummary) -> None:
    (found,) = findings(demo, "scheduled_job")
    assert found.kind == "scheduled_trigger"
    assert names(found) == ["job.send-welcome-email", "user.signup.handler"]
    assert "24 h" in found.summary


def test_retries_are_one_retry_chain_with_its_outcome(demo: DemoSummary) -> None:
    (found,) = findings(demo, "retries")
    assert found.kind == "retry_chain"
    assert len(found.traces) == 3
    assert "3 attempts (2 failed), final ok" in found.summary


def test_the_batch_is_a_batch_fan_in_with_its_items(demo: DemoSummary) -> None:
    (found,) = findings(demo, "batch")
    assert found.kind == "batch_fan_in"
    assert len(found.traces) == 13  # the batch and its 12 origins
    member_names = names(found)
    assert member_names.count("batch.item.process") == 12
    assert member_names.count("batch.process") == 1
    assert "links 12 producer traces" in found.summary


def test_an_async_job_is_a_trigger_with_its_queue_time(demo: DemoSummary) -> None:
    (found,) = findings(demo, "async_job")
    assert found.kind == "async_trigger"
    assert names(found) == ["job.enqueue", "job.execute"]
    assert "850 ms" in found.summary


def test_the_saga_is_one_workflow_chain_of_four_steps(demo: DemoSummary) -> None:
    (found,) = findings(demo, "saga")
    assert found.kind == "workflow_chain"
    assert len(found.traces) == 4
    assert found.summary.startswith(
        "workflow of 4 steps: workflow.step.validate -> workflow.step.reserve-inventory"
        " -> workflow.step.charge-payment -> workflow.step.ship"
    )
    assert len(found.links) == 6  # every step links all earlier ones...
    assert len(found.details["chain"]) == 3  # ...and the chain is their transitive reduction
    assert found.details["is_path"] is True


def test_projections_are_event_triggers(demo: DemoSummary) -> None:
    found = findings(demo, "event_sourcing")
    assert sorted(f.kind for f in found) == ["event_trigger", "event_trigger"]
    assert sorted(n for f in found for n in names(f) if n.startswith("projection")) == [
        "projection.customer_timeline",
        "projection.order_created",
    ]


def test_federated_search_is_a_fan_out_fan_in(demo: DemoSummary) -> None:
    (found,) = findings(demo, "search_fanout")
    assert found.kind == "fan_out_fan_in"
    assert names(found) == [
        "search.federated",
        "search.merge",
        "search.source.elastic",
        "search.source.postgres",
        "search.source.redis",
    ]


def test_the_capped_batch_says_links_were_dropped(demo: DemoSummary) -> None:
    (found,) = findings(demo, "awkward")
    assert found.kind == "batch_fan_in"
    assert "22 links dropped" in found.summary


def test_plain_traces_have_no_findings(demo: DemoSummary) -> None:
    assert findings(demo, "plain") == []
