"""One error type for the JSON API; the ``api`` decorator turns it into a response."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse, JsonResponse

from tracegraph.backends import BackendError, BackendUnavailable, TraceNotFound

__all__ = ["ApiError", "api"]


class ApiError(Exception):
    def __init__(self, status: int, message: str, *, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}


def error_response(
    status: int, message: str, headers: dict[str, str] | None = None
) -> JsonResponse:
    response = JsonResponse({"error": message}, status=status)
    for key, value in (headers or {}).items():
        response[key] = value
    return response


def api(view: Callable[..., Any]) -> Callable[..., HttpResponse]:
    """Answer with the view's dict as JSON, or ``{"error": ...}`` with its status."""

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if request.method not in {"GET", "HEAD"}:
            return error_response(405, f"method {request.method} not allowed; use GET")
        try:
            result = view(request, *args, **kwargs)
        except ApiError as exc:
            return error_response(exc.status, exc.message, exc.headers)
        except TraceNotFound as exc:
            return error_response(404, str(exc))
        except BackendUnavailable as exc:
            return error_response(503, str(exc), {"Retry-After": "10"})
        except BackendError as exc:
            return error_response(502, str(exc))
        except DatabaseError:
            return error_response(
                503, "the trace store is unavailable; retry shortly", {"Retry-After": "5"}
            )
        if isinstance(result, HttpResponse):
            return result
        return JsonResponse(result, json_dumps_params={"separators": (",", ":")})

    return wrapper
