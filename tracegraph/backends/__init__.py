"""Where traces come from: the local store, Jaeger, Tempo, OTLP files.

Importing this package registers the built-in backends:

=============  ==========================================================
``local``      the app's own database (the default); incoming links known
``jaeger``     Jaeger query service, api_v3 then v1; incoming links unknown
``tempo``      Tempo HTTP API; incoming links via TraceQL on Tempo >= 2.6
``otlp-file``  OTLP/JSON Lines files (Collector file exporter), in memory
=============  ==========================================================

:func:`get_backend` returns the one ``TRACEGRAPH_BACKEND`` names. Every
backend is a :class:`TraceBackend` and raises only :class:`TraceNotFound`,
:class:`BackendUnavailable` and :class:`BackendError`.

>>> sorted(backend_names())
['jaeger', 'local', 'otlp-file', 'tempo']
"""

from tracegraph.backends.base import (
    DEFAULT_BACKEND,
    SETTING_NAMES,
    BackendError,
    BackendUnavailable,
    TraceBackend,
    TraceNotFound,
    backend_names,
    clear_backend_cache,
    get_backend,
    register_backend,
    summarise_traces,
)
from tracegraph.backends.jaeger import JaegerBackend
from tracegraph.backends.local import LocalBackend
from tracegraph.backends.otlp_file import OtlpFileBackend
from tracegraph.backends.tempo import TempoBackend

__all__ = [
    "DEFAULT_BACKEND",
    "SETTING_NAMES",
    "BackendError",
    "BackendUnavailable",
    "JaegerBackend",
    "LocalBackend",
    "OtlpFileBackend",
    "TempoBackend",
    "TraceBackend",
    "TraceNotFound",
    "backend_names",
    "clear_backend_cache",
    "get_backend",
    "register_backend",
    "summarise_traces",
]
