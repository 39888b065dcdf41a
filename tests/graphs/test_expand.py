"""expand: breadth-first over traces, bounded, saying where it was cut."""

from __future__ import annotations

import pytest

from tests.graphs.builders import key, link, span, tid
from tracegraph.domain.records import SpanRecord
from tracegraph.graphs import MemorySource, expand


def chain() -> list[SpanRecord]:
    # trace 1 ──link──> trace 2 ──link──> trace 3 ──link──> trace 4
    # (cause -> effect: trace 2's span holds a link to trace 1's, and so on)
    spans = [span(1, 1, "t1")]
    for t in (2, 3, 4):
        spans.append(span(t, 1, f"t{t}", start=10 * t, links=[link(key(t - 1, 1))]))
    return spans


def test_depth_zero_is_the_trace_alone_with_its_links_as_frontier() -> None:
    hood = expand(MemorySource(chain()), tid(2), depth=0)
    assert hood.traces == [(tid(2), 0)]
    assert hood.truncated is False
    assert sorted(c["trace_id"] for c in hood.frontier) == [tid(1), tid(3)]
    assert all(c["links"] == 1 and c["reason"] == "depth" for c in hood.cut)
    # the link into trace 3's span is drawn to a ghost holder, trace 1's span is a ghost
    assert hood.graph.nodes[key(1, 1)]["ghost"] is True
    assert hood.graph.nodes[key(3, 1)]["ghost"] is True


def test_backward_goes_upstream_forward_goes_downstream() -> None:
    src = MemorySource(chain())
    back = expand(src, tid(3), depth=5, direction="backward")
    fwd = expand(src, tid(2), depth=5, direction="forward")
    assert back.traces == [(tid(3), 0), (tid(2), 1), (tid(1), 2)]
    assert fwd.traces == [(tid(2), 0), (tid(3), 1), (tid(4), 2)]
    assert back.cut == [] and fwd.cut == []


def test_max_traces_truncates_and_names_the_cut_traces() -> None:
    # trace 1 [origin] ──link──> trace 2..6 [consumer]
    spans = [span(1, 1, "origin")]
    spans += [span(t, 1, "consumer", links=[link(key(1, 1))]) for t in range(2, 7)]
    hood = expand(MemorySource(spans), tid(1), depth=1, max_traces=3)
    assert [t for t, _ in hood.traces] == [tid(1), tid(2), tid(3)]
    assert hood.truncated is True
    assert [(c["trace_id"], c["reason"]) for c in hood.cut] == [
        (tid(t), "max_traces") for t in (4, 5, 6)
    ]


def test_max_spans_skips_whole_traces_that_do_not_fit() -> None:
    # trace 1 [origin] ──link──> trace 2 (10 spans), trace 3 (1 span)
    spans = [span(1, 1, "origin"), span(2, 1, "big", links=[link(key(1, 1))])]
    spans += [span(2, s, "child", parent=1) for s in range(2, 11)]
    spans.append(span(3, 1, "small", links=[link(key(1, 1))]))
    hood = expand(MemorySource(spans), tid(1), depth=1, max_spans=5)
    assert [t for t, _ in hood.traces] == [tid(1), tid(3)]
    assert hood.cut == [{"trace_id": tid(2), "links": 1, "reason": "max_spans"}]
    assert hood.truncated is True


def test_a_source_that_cannot_list_incoming_links_says_so() -> None:
    hood = expand(MemorySource(chain(), incoming_known=False), tid(2), direction="forward")
    assert hood.incoming_known is False
    assert hood.trace_ids == [tid(2)]


def test_a_trace_the_source_does_not_have_is_reported_missing() -> None:
    # trace 2 [consumer] ──link──> trace 7 (never arrived)
    spans = [span(2, 1, "consumer", links=[link(key(7, 1))])]
    hood = expand(MemorySource(spans), tid(2), depth=1)
    assert hood.missing == [tid(7)]
    assert hood.graph.nodes[key(7, 1)]["ghost"] is True


@pytest.mark.parametrize(
    "kwargs",
    [{"depth": -1}, {"direction": "sideways"}, {"max_traces": 0}, {"max_spans": 0}],
)
def test_it_rejects_bad_options(kwargs: dict) -> None:  # type: ignore[type-arg]
    with pytest.raises(ValueError):
        expand(MemorySource(chain()), tid(1), **kwargs)
