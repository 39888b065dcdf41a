"""The backend registry: ``get_backend()`` picks by ``TRACEGRAPH_BACKEND``."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured
from pytest_django.fixtures import Settings

from tracegraph.backends import (
    JaegerBackend,
    LocalBackend,
    OtlpFileBackend,
    TempoBackend,
    TraceBackend,
    backend_names,
    get_backend,
    register_backend,
)
from tracegraph.backends import base as backends_base


def test_it_registers_the_four_builtin_backends() -> None:
    assert {"local", "jaeger", "tempo", "otlp-file"} <= set(backend_names())


def test_local_is_the_default(settings: Settings) -> None:
    del settings.TRACEGRAPH_BACKEND
    assert isinstance(get_backend(), LocalBackend)


@pytest.mark.parametrize(
    ("name", "extra", "cls"),
    [
        ("local", {}, LocalBackend),
        ("jaeger", {"TRACEGRAPH_JAEGER_URL": "http://jaeger:16686"}, JaegerBackend),
        ("tempo", {"TRACEGRAPH_TEMPO_URL": "http://tempo:3200/"}, TempoBackend),
        ("otlp-file", {"TRACEGRAPH_OTLP_FILE": "/tmp/traces.jsonl"}, OtlpFileBackend),
    ],
)
def test_it_picks_the_backend_the_setting_names(
    settings: Settings, name: Any, extra: Any, cls: Any
) -> None:
    settings.TRACEGRAPH_BACKEND = name
    for key, value in extra.items():
        setattr(settings, key, value)
    backend = get_backend()
    assert isinstance(backend, cls)
    assert backend.name == name
    assert isinstance(backend, TraceBackend)  # the protocol's members are all there


def test_the_instance_is_reused_until_a_setting_changes(settings: Settings) -> None:
    settings.TRACEGRAPH_BACKEND = "otlp-file"
    settings.TRACEGRAPH_OTLP_FILE = "/tmp/a.jsonl"
    first = get_backend()
    assert get_backend() is first  # the in-memory index survives between requests
    settings.TRACEGRAPH_OTLP_FILE = "/tmp/b.jsonl"
    assert get_backend() is not first


def test_an_unknown_backend_names_the_known_ones(settings: Settings) -> None:
    settings.TRACEGRAPH_BACKEND = "zipkin"
    with pytest.raises(
        ImproperlyConfigured,
        match="'zipkin' is not a trace backend; known: jaeger, local, otlp-file, tempo",
    ):
        get_backend()


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("jaeger", "needs TRACEGRAPH_JAEGER_URL"),
        ("tempo", "needs TRACEGRAPH_TEMPO_URL"),
        ("otlp-file", "needs TRACEGRAPH_OTLP_FILE"),
    ],
)
def test_a_missing_location_fails_loudly(settings: Settings, name: Any, message: Any) -> None:
    settings.TRACEGRAPH_BACKEND = name
    settings.TRACEGRAPH_JAEGER_URL = ""
    settings.TRACEGRAPH_TEMPO_URL = ""
    settings.TRACEGRAPH_OTLP_FILE = ""
    with pytest.raises(ImproperlyConfigured, match=message):
        get_backend()


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("TRACEGRAPH_BACKEND_AUTH_HEADER", "Bearer abc", "must look like 'Name: value'"),
        ("TRACEGRAPH_BACKEND_TIMEOUT", "soon", "must be a positive number of seconds"),
        ("TRACEGRAPH_BACKEND_TIMEOUT", 0, "must be a positive number of seconds"),
        ("TRACEGRAPH_JAEGER_URL", "jaeger:16686", "must start with http:// or https://"),
    ],
)
def test_bad_client_settings_fail_loudly(
    settings: Settings, key: Any, value: Any, message: Any
) -> None:
    settings.TRACEGRAPH_BACKEND = "jaeger"
    settings.TRACEGRAPH_JAEGER_URL = "http://jaeger:16686"
    setattr(settings, key, value)
    with pytest.raises(ImproperlyConfigured, match=message):
        get_backend()


def test_client_settings_reach_the_client(settings: Settings) -> None:
    settings.TRACEGRAPH_BACKEND = "tempo"
    settings.TRACEGRAPH_TEMPO_URL = "https://tempo.example:3200/"
    settings.TRACEGRAPH_BACKEND_TIMEOUT = "2.5"
    settings.TRACEGRAPH_BACKEND_AUTH_HEADER = "X-Scope-OrgID: tenant-1"
    backend = get_backend()
    assert isinstance(backend, TempoBackend)
    assert backend.client.base_url == "https://tempo.example:3200"
    assert backend.client.timeout == 2.5
    assert backend.client.headers["X-Scope-OrgID"] == "tenant-1"


def test_a_plugin_registers_with_the_decorator(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(backends_base, "_REGISTRY", dict(backends_base._REGISTRY))

    @register_backend("memory")
    class MemoryBackend(LocalBackend):
        name = "memory"

        @classmethod
        def from_settings(cls) -> MemoryBackend:
            return cls()

    settings.TRACEGRAPH_BACKEND = "memory"
    assert isinstance(get_backend(), MemoryBackend)
    assert "memory" in backend_names()
