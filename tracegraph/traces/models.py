"""The store: spans, their links, and a summary row per trace (DESIGN §2).

Bulk writes go through :mod:`tracegraph.traces.services` (raw upserts for
speed); the ORM models here define the schema and serve reads.
"""

from __future__ import annotations

import secrets
import zlib
from typing import Any

import orjson
from django.db import models

# No 0/o, 1/l/i: a slug read aloud or copied by hand survives.
SLUG_ALPHABET = "23456789abcdefghjkmnpqrstuvwxyz"


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


class Share(models.Model):
    """A snapshot of one graph view, answered at ``/s/<id>`` long after its traces are gone.

    Not tied to any trace row: retention purges traces, a remote backend
    drops them, the share stays. ``payload`` is the ``/api/graph`` answer as
    it was, orjson-encoded (as the API sends it; keys may be numbers) and
    zlib-compressed (a 20,000-span graph is megabytes of repetitive JSON).
    """

    id = models.CharField(primary_key=True, max_length=16)
    trace_id = models.CharField(max_length=32)
    params = models.JSONField(default=dict, help_text="the graph page's query parameters")
    payload = models.BinaryField(help_text="zlib(orjson(graph payload))")
    backend = models.CharField(max_length=32, blank=True, default="")
    created = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"share {self.id} of {self.trace_id}"

    @staticmethod
    def new_id() -> str:
        """A short random slug: 10 characters of a 31-character alphabet (about 50 bits)."""
        return "".join(secrets.choice(SLUG_ALPHABET) for _ in range(10))

    @staticmethod
    def encode(payload: dict[str, Any]) -> bytes:
        return zlib.compress(orjson.dumps(payload, option=orjson.OPT_NON_STR_KEYS), 6)

    def graph(self) -> dict[str, Any]:
        """The stored graph payload."""
        data: dict[str, Any] = orjson.loads(zlib.decompress(bytes(self.payload)))
        return data
