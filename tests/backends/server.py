"""A real HTTP server for the remote backends' tests, serving recorded bodies.

Each test routes paths to files in ``tests/fixtures/backends/`` (or to a
status, or to a slow answer) and then asserts on the requests the server got:
their path, query and headers (the auth header, the TraceQL query).
"""

from __future__ import annotations

import gzip
import threading
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "backends"


@dataclass(frozen=True)
class Route:
    status: int = 200
    body: bytes = b""
    content_type: str = "application/json"
    delay: float = 0.0  # seconds to wait before answering
    gzip: bool = False


NOT_FOUND = Route(404, b"404 page not found\n", "text/plain")  # what Go's mux says


@dataclass(frozen=True)
class Seen:
    """One request the server got."""

    path: str
    query: dict[str, str]
    headers: dict[str, str]


@dataclass
class FakeBackendServer:
    """Routes by exact path (the query is ignored); anything else is a 404."""

    url: str = ""
    routes: dict[str, Route] = field(default_factory=dict)
    requests: list[Seen] = field(default_factory=list)
    stopping: threading.Event = field(default_factory=threading.Event)

    def file(self, path: str, name: str, *, status: int = 200, gzip: bool = False) -> None:
        self.routes[path] = Route(status, (FIXTURES / name).read_bytes(), gzip=gzip)

    def answer(self, path: str, status: int, body: bytes = b"", **kwargs: object) -> None:
        self.routes[path] = Route(status, body, **kwargs)  # type: ignore[arg-type]

    def paths(self) -> list[str]:
        return [r.path for r in self.requests]

    def only(self, path: str) -> Seen:
        seen = [r for r in self.requests if r.path == path]
        assert len(seen) == 1, f"{path} requested {len(seen)} times: {self.paths()}"
        return seen[0]


def _handler(server_state: FakeBackendServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            parts = urllib.parse.urlsplit(self.path)
            server_state.requests.append(
                Seen(
                    path=parts.path,
                    query=dict(urllib.parse.parse_qsl(parts.query)),
                    headers={k.lower(): v for k, v in self.headers.items()},
                )
            )
            route = server_state.routes.get(
                parts.path, Route(404, b"404 page not found\n", "text/plain")
            )
            if route.delay and server_state.stopping.wait(route.delay):
                return
            body = gzip.compress(route.body) if route.gzip else route.body
            try:
                self.send_response(route.status)
                self.send_header("Content-Type", route.content_type)
                self.send_header("Content-Length", str(len(body)))
                if route.gzip:
                    self.send_header("Content-Encoding", "gzip")
                self.end_headers()
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (the timeout tests)

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler


def start_server() -> tuple[FakeBackendServer, ThreadingHTTPServer, threading.Thread]:
    """A ThreadingHTTPServer on an ephemeral port, serving in a daemon thread."""
    state = FakeBackendServer()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    httpd.daemon_threads = True
    state.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    return state, httpd, thread


@pytest.fixture
def backend_server() -> Iterator[FakeBackendServer]:
    """A server for this test; route paths to fixture files, then assert on its requests."""
    state, httpd, thread = start_server()
    try:
        yield state
    finally:
        state.stopping.set()
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)
