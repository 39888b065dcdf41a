"""``manage.py demo [--endpoint URL] [--once] [--serve-port N]``.

Sends every span-link scenario through the OpenTelemetry SDK to an OTLP/HTTP
receiver: ``--endpoint``, or this app served for the occasion on an ephemeral
port, so the demo always goes through HTTP and the real receiver.
"""

from __future__ import annotations

import time
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from tracegraph.traces.demo import (
    DemoExportError,
    DemoSummary,
    demo_loaded,
    demo_send,
    embedded_receiver,
)


class Command(BaseCommand):
    help = "Load demo traces of every span-link scenario, sent with the OpenTelemetry SDK."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--endpoint",
            help="OTLP/HTTP traces URL of a running receiver, e.g. http://127.0.0.1:8000/v1/traces "
            "(default: serve this app on a temporary port and send there)",
        )
        parser.add_argument(
            "--once", action="store_true", help="do nothing if the demo was loaded before"
        )
        parser.add_argument(
            "--serve-port", type=int, default=8000, help="port of the links printed (default 8000)"
        )

    def handle(
        self, *args: Any, endpoint: str | None, once: bool, serve_port: int, **options: Any
    ) -> None:
        if once and demo_loaded():
            self.stdout.write("demo traces already loaded")
            return
        token = settings.TRACEGRAPH_INGEST_TOKEN
        try:
            if endpoint:
                summary = demo_send(endpoint=endpoint, now_ns=time.time_ns(), token=token)
            else:
                with embedded_receiver() as url:
                    summary = demo_send(endpoint=url, now_ns=time.time_ns(), token=token)
        except DemoExportError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(self._report(summary, serve_port))

    @staticmethod
    def _report(summary: DemoSummary, port: int) -> str:
        base = f"http://127.0.0.1:{port}"
        lines = [
            f"demo loaded: {summary.spans} spans, {summary.traces} traces, "
            f"{summary.links} links, {len(summary.scenarios)} scenarios",
        ]
        lines += [
            f"  {s.name:<15} {len(s.traces):>3} traces  {base}/traces/{s.focus}"
            for s in summary.scenarios
        ]
        lines.append(f"batch trace: {base}/traces/{summary.batch_trace_id}")
        return "\n".join(lines)
