"""tracegraph: cross-trace diagrams of OpenTelemetry span links.

The Celery app lives in :mod:`tracegraph.celery` (``celery -A tracegraph``
finds it there). It is not imported here: the pure core
(``tracegraph.domain`` and friends) must import without Celery or Django.
"""
