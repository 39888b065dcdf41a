"""The shared HTTP client: headers, timeouts and the mapping of failures."""

from __future__ import annotations

import socket

import pytest

from tracegraph.backends import BackendError, BackendUnavailable
from tracegraph.backends._http import HttpClient

from .server import FakeBackendServer


def client(server: FakeBackendServer, **kwargs: object) -> HttpClient:
    return HttpClient(server.url, label="Tempo", **kwargs)  # type: ignore[arg-type]


def test_it_sends_the_auth_header_and_asks_for_json(backend_server: FakeBackendServer) -> None:
    backend_server.answer("/api/echo", 200, b'{"ok": true}')
    http = client(backend_server, headers={"Authorization": "Bearer s3cret"})
    assert http.get_json("/api/echo", {"q": "{ }"}) == {"ok": True}
    seen = backend_server.only("/api/echo")
    assert seen.headers["authorization"] == "Bearer s3cret"
    assert seen.headers["accept"] == "application/json"
    assert seen.query == {"q": "{ }"}


def test_it_decodes_a_gzip_answer(backend_server: FakeBackendServer) -> None:
    backend_server.file("/api/search", "tempo_search.json", gzip=True)
    doc = client(backend_server).get_json("/api/search")
    assert doc is not None and len(doc["traces"]) == 2


def test_404_is_none(backend_server: FakeBackendServer) -> None:
    assert client(backend_server).get_json("/api/traces/ab") is None


def test_500_is_unavailable_and_quotes_the_body(backend_server: FakeBackendServer) -> None:
    backend_server.answer(
        "/api/search", 500, b"error querying ingesters\n", content_type="text/plain"
    )
    with pytest.raises(BackendUnavailable) as caught:
        client(backend_server).get_json("/api/search")
    message = str(caught.value)
    assert f"Tempo at {backend_server.url} failed: HTTP 500" in message
    assert "error querying ingesters" in message


def test_a_slow_server_is_unavailable_after_the_timeout(backend_server: FakeBackendServer) -> None:
    backend_server.answer("/api/search", 200, b"{}", delay=3)
    with pytest.raises(
        BackendUnavailable, match=r"did not answer within 0.2 s \(GET /api/search\)"
    ):
        client(backend_server, timeout=0.2).get_json("/api/search")


def test_a_refused_connection_is_unavailable() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again: nothing listens there
    http = HttpClient(f"http://127.0.0.1:{port}", label="Jaeger", timeout=2)
    with pytest.raises(
        BackendUnavailable, match=rf"cannot reach Jaeger at http://127.0.0.1:{port}"
    ):
        http.get_json("/api/services")


def test_401_points_at_the_auth_setting(backend_server: FakeBackendServer) -> None:
    backend_server.answer("/api/search", 401, b"no org id", content_type="text/plain")
    with pytest.raises(BackendError, match="TRACEGRAPH_BACKEND_AUTH_HEADER") as caught:
        client(backend_server).get_json("/api/search")
    assert not isinstance(caught.value, BackendUnavailable)


def test_a_body_that_is_not_json_is_an_error(backend_server: FakeBackendServer) -> None:
    backend_server.answer("/api/search", 200, b"<html>login</html>", content_type="text/html")
    with pytest.raises(BackendError, match="not JSON: '<html>login</html>'"):
        client(backend_server).get_json("/api/search")
