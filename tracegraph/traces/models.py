"""The store: spans, their links, and a summary row per trace (DESIGN §2).

Bulk writes go through :mod:`tracegraph.traces.services` (raw upserts for
speed); the ORM models here define the schema and serve reads.
"""

from __future__ import annotations

from django.db import models


class Span(models.Model):
    trace_id = models.CharField(max_length=32)
    span_id = models.CharField(max_length=16)
    parent_span_id = models.CharField(max_length=16, blank=True, default="")
    name = models.CharField(max_length=1024)
    kind = models.PositiveSmallIntegerField(default=0)
    service = models.CharField(max_length=512, blank=True, default="")
    start_ns = models.BigIntegerField()
    end_ns = models.BigIntegerField()
    status_code = models.PositiveSmallIntegerField(default=0)
    status_message = models.TextField(blank=True, default="")
    attributes = models.JSONField(default=dict)
    resource_attributes = models.JSONField(default=dict)
    events = models.JSONField(default=list)
    scope_name = models.CharField(max_length=512, blank=True, default="")
    scope_version = models.CharField(max_length=128, blank=True, default="")
    trace_state = models.CharField(max_length=512, blank=True, default="")
    flags = models.BigIntegerField(default=0)
    dropped_attributes_count = models.IntegerField(default=0)
    dropped_events_count = models.IntegerField(default=0)
    dropped_links_count = models.IntegerField(default=0)
    ingested_at = models.BigIntegerField(default=0, help_text="ns since the epoch")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["trace_id", "span_id"], name="span_trace_span_uniq")
        ]
        indexes = [
            models.Index(fields=["service", "name"], name="span_service_name"),
            models.Index(fields=["name"], name="span_name"),
        ]

    def __str__(self) -> str:
        return f"{self.trace_id}/{self.span_id} {self.name}"


class SpanLink(models.Model):
    """A link held by ``(trace_id, span_id)`` pointing at the linked span.

    Indexed on the target so "who links to this span?" is one index lookup,
    also when the target trace never arrived (late producers, dangling links).
    """

    trace_id = models.CharField(max_length=32)
    span_id = models.CharField(max_length=16)
    link_index = models.IntegerField()
    linked_trace_id = models.CharField(max_length=32)
    linked_span_id = models.CharField(max_length=16)
    link_type = models.CharField(max_length=64, default="link")
    attributes = models.JSONField(default=dict)
    trace_state = models.CharField(max_length=512, blank=True, default="")
    flags = models.BigIntegerField(default=0)
    dropped_attributes_count = models.IntegerField(default=0)
    invalid = models.BooleanField(default=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["trace_id", "span_id", "link_index"], name="spanlink_holder_uniq"
            )
        ]
        indexes = [
            models.Index(fields=["linked_trace_id", "linked_span_id"], name="spanlink_target"),
            models.Index(fields=["link_type"], name="spanlink_type"),
        ]


class Trace(models.Model):
    """Summary of one trace, kept current on ingest; search reads only this."""

    trace_id = models.CharField(max_length=32, primary_key=True)
    root_service = models.CharField(max_length=512, blank=True, default="")
    root_name = models.CharField(max_length=1024, blank=True, default="")
    start_ns = models.BigIntegerField()
    end_ns = models.BigIntegerField()
    duration_ns = models.BigIntegerField()
    span_count = models.IntegerField()
    error_count = models.IntegerField()
    links_out = models.IntegerField(default=0)
    links_in = models.IntegerField(default=0)
    updated_at = models.BigIntegerField(default=0, help_text="ns since the epoch")

    class Meta:
        indexes = [
            models.Index(fields=["-start_ns"], name="trace_recent"),
            models.Index(fields=["root_service", "-start_ns"], name="trace_service_recent"),
        ]
