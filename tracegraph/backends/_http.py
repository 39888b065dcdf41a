"""The one small HTTP client the remote backends share (stdlib only).

It owns the timeout, the auth header, gzip, JSON decoding (orjson) and the
mapping of every failure to the backend errors, so that a view only ever sees
:class:`~.base.TraceNotFound`, :class:`~.base.BackendUnavailable` or
:class:`~.base.BackendError`, each with a message a user can act on.
"""

from __future__ import annotations

import http.client
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from typing import Any

import orjson
from django.core.exceptions import ImproperlyConfigured

from tracegraph.backends.base import BackendError, BackendUnavailable, setting
from tracegraph.ingest import gunzip

__all__ = ["DEFAULT_TIMEOUT", "HttpClient", "client_from_settings", "parse_auth_header"]

DEFAULT_TIMEOUT = 10.0
_SNIPPET = 200  # characters of an error body worth quoting


def parse_auth_header(value: str) -> dict[str, str]:
    """``"Name: value"`` as a one-header dict; empty for an empty setting.

    >>> parse_auth_header("X-Scope-OrgID: tenant-1")
    {'X-Scope-OrgID': 'tenant-1'}
    >>> parse_auth_header("")
    {}
    """
    if not value or not value.strip():
        return {}
    name, sep, content = value.partition(":")
    if not sep or not name.strip() or not content.strip():
        raise ImproperlyConfigured(
            "TRACEGRAPH_BACKEND_AUTH_HEADER must look like 'Name: value', "
            "e.g. 'Authorization: Bearer <token>' or 'X-Scope-OrgID: <tenant>'"
        )
    return {name.strip(): content.strip()}


def _snippet(body: bytes) -> str:
    text = body[: _SNIPPET * 4].decode("utf-8", "replace").strip()
    text = " ".join(text.split())
    return text[:_SNIPPET] + ("..." if len(text) > _SNIPPET else "")


class HttpClient:
    """GET JSON from one base URL, e.g. ``HttpClient("http://jaeger:16686", label="Jaeger")``."""

    def __init__(
        self,
        base_url: str,
        *,
        label: str,
        timeout: float = DEFAULT_TIMEOUT,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.label = label
        self.timeout = timeout
        self.headers = {
            "Accept": "application/json",
            "Accept-Encoding": "gzip",
            "User-Agent": "tracegraph",
            **(headers or {}),
        }

    def url(self, path: str, params: Mapping[str, str | int] | None = None) -> str:
        query = f"?{urllib.parse.urlencode(params)}" if params else ""
        return f"{self.base_url}{path}{query}"

    def get_json(self, path: str, params: Mapping[str, str | int] | None = None) -> Any | None:
        """The decoded JSON body of ``GET path?params``; ``None`` on 404 (and an empty 204).

        Raises :class:`BackendUnavailable` on a timeout, a connection error or
        a 5xx answer, :class:`BackendError` on any other unusable answer.
        """
        url = self.url(path, params)
        where = f"{self.label} at {self.base_url}"
        request = urllib.request.Request(url, headers=self.headers, method="GET")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                status = response.status
                body = response.read()
                encoding = response.headers.get("Content-Encoding", "")
        except urllib.error.HTTPError as exc:
            with exc:
                error_body = exc.read() or b""
            if exc.code == 404:
                return None
            detail = _snippet(error_body) or exc.reason
            if exc.code >= 500:
                raise BackendUnavailable(
                    f"{where} failed: HTTP {exc.code} for {path}: {detail}"
                ) from exc
            if exc.code in (401, 403):
                raise BackendError(
                    f"{where} refused the request (HTTP {exc.code}: {detail}); "
                    "check TRACEGRAPH_BACKEND_AUTH_HEADER"
                ) from exc
            raise BackendError(f"{where} rejected {path}: HTTP {exc.code}: {detail}") from exc
        except TimeoutError as exc:  # socket.timeout is TimeoutError
            raise BackendUnavailable(
                f"{where} did not answer within {self.timeout:g} s (GET {path})"
            ) from exc
        except urllib.error.URLError as exc:
            if isinstance(exc.reason, TimeoutError):
                raise BackendUnavailable(
                    f"{where} did not answer within {self.timeout:g} s (GET {path})"
                ) from exc
            raise BackendUnavailable(f"cannot reach {where}: {exc.reason}") from exc
        except (http.client.HTTPException, OSError) as exc:
            raise BackendUnavailable(
                f"{where} broke off the answer to GET {path}: {type(exc).__name__}: {exc}"
            ) from exc
        if status == 204 or not body:
            return None
        if "gzip" in encoding.lower():
            try:
                body = gunzip(body, max_size=None)
            except ValueError as exc:
                raise BackendError(f"{where} sent a bad gzip body for {path}: {exc}") from exc
        try:
            return orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise BackendError(
                f"{where} answered {path} with something that is not JSON: {_snippet(body)!r}"
            ) from exc


def client_from_settings(url_setting: str, *, label: str, backend: str) -> HttpClient:
    """A client for the URL in ``url_setting``, with the shared timeout and auth header."""
    url = str(setting(url_setting)).strip()
    if not url:
        raise ImproperlyConfigured(
            f"TRACEGRAPH_BACKEND={backend!r} needs {url_setting} (the {label} query URL)"
        )
    if not url.startswith(("http://", "https://")):
        raise ImproperlyConfigured(f"{url_setting}={url!r} must start with http:// or https://")
    raw_timeout = setting("TRACEGRAPH_BACKEND_TIMEOUT", DEFAULT_TIMEOUT)
    try:
        timeout = float(raw_timeout)
    except (TypeError, ValueError):
        timeout = -1.0
    if timeout <= 0:
        raise ImproperlyConfigured(
            f"TRACEGRAPH_BACKEND_TIMEOUT={raw_timeout!r} must be a positive number of seconds"
        )
    headers = parse_auth_header(str(setting("TRACEGRAPH_BACKEND_AUTH_HEADER")))
    return HttpClient(url, label=label, timeout=timeout, headers=headers)
