"""``manage.py import_traces PATH...``: files, folders or ``-`` for stdin."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from tracegraph.traces.imports import ImportSummary, trace_body_import, trace_files_collect


class Progress:
    """A one-line progress bar on stderr, redrawn at most ten times a second."""

    def __init__(self, stream: Any, label: str, enabled: bool) -> None:
        self.stream, self.label, self.enabled = stream, label, enabled
        self.last = 0.0

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        if not self.enabled or (now - self.last < 0.1 and done < total):
            return
        self.last = now
        width = 30
        filled = width * done // max(total, 1)
        bar = "#" * filled + "." * (width - filled)
        self.stream.write(f"\r{self.label[-40:]:<40} [{bar}] {done}/{total} spans")
        if done >= total:
            self.stream.write("\n")
        self.stream.flush()


class Command(BaseCommand):
    help = "Import trace files (OTLP protobuf/JSON/JSON Lines, Jaeger JSON, Zipkin v2 JSON)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("paths", nargs="+", help="files, folders (recursive) or - for stdin")
        parser.add_argument("--quiet", action="store_true", help="no progress bar")

    def handle(self, *args: Any, paths: list[str], quiet: bool, **options: Any) -> None:
        summary = ImportSummary()
        show = not quiet and options.get("verbosity", 1) > 0
        for raw in paths:
            if raw == "-":
                body = sys.stdin.buffer.read()
                trace_body_import(
                    body=body,
                    name="<stdin>",
                    summary=summary,
                    on_progress=Progress(self.stderr, "<stdin>", show),
                )
                continue
            path = Path(raw)
            if not path.exists():
                raise CommandError(f"{raw}: no such file or folder")
            for file in trace_files_collect([path]):
                trace_body_import(
                    body=file.read_bytes(),
                    name=str(file),
                    summary=summary,
                    on_progress=Progress(self.stderr, str(file), show),
                )
        for error in summary.errors[:20]:
            self.stderr.write(f"  {error}")
        self.stdout.write(summary.as_text())
        if summary.files and len(summary.failed_files) == summary.files:
            raise CommandError("no file could be read as traces")
