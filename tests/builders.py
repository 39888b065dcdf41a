"""Small builders for domain records, shared by the database tests."""

from __future__ import annotations

from typing import Any

from tracegraph.domain import LinkRecord, SpanRecord, infer_link_type

T0 = 1_700_000_000_000_000_000  # 2023-11-14T22:13:20Z in ns


def tid(n: int) -> str:
    """Trace id number ``n`` as 32 hex digits."""
    return f"{n:032x}"


def sid(n: int) -> str:
    """Span id number ``n`` as 16 hex digits."""
    return f"{n:016x}"


def link(
    holder: tuple[str, str], target: tuple[str, str], *, index: int = 0, **attributes: Any
) -> LinkRecord:
    attrs = {k.replace("__", "."): v for k, v in attributes.items()}
    return LinkRecord(
        trace_id=holder[0],
        span_id=holder[1],
        index=index,
        linked_trace_id=target[0],
        linked_span_id=target[1],
        link_type=infer_link_type(attrs),
        attributes=attrs,
    )


def span(
    trace: str,
    span_id: str,
    *,
    parent: str = "",
    name: str = "op",
    service: str = "svc",
    start: int = 0,
    duration: int = 1_000_000,
    kind: int = 1,
    status: int = 0,
    links: tuple[tuple[str, str], ...] = (),
    link_attributes: dict[str, Any] | None = None,
    **extra: Any,
) -> SpanRecord:
    made = tuple(
        LinkRecord(
            trace_id=trace,
            span_id=span_id,
            index=i,
            linked_trace_id=t,
            linked_span_id=s,
            link_type=infer_link_type(link_attributes or {}),
            attributes=dict(link_attributes or {}),
        )
        for i, (t, s) in enumerate(links)
    )
    return SpanRecord(
        trace_id=trace,
        span_id=span_id,
        parent_span_id=parent,
        name=name,
        service=service,
        start=T0 + start,
        end=T0 + start + duration,
        kind=kind,
        status_code=status,
        links=made,
        **extra,
    )
