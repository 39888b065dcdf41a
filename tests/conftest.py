"""Shared test setup.

``make test`` runs the suite on SQLite, then the database tests (marker
``db``) again on PostgreSQL. Tests that need a service (PostgreSQL, Redis,
Chromium) skip with a message saying what to start, unless
``TRACEGRAPH_REQUIRE_SERVICES=1`` (CI), where they fail instead.
"""

from __future__ import annotations

import os

import pytest

REQUIRE_SERVICES = os.environ.get("TRACEGRAPH_REQUIRE_SERVICES") == "1"


def service_missing(message: str) -> None:
    """Skip (laptop) or fail (CI) a test whose service is not reachable."""
    if REQUIRE_SERVICES:
        pytest.fail(f"required service missing: {message}", pytrace=False)
    pytest.skip(message)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # Any test touching the database carries the marker, so the PostgreSQL
    # pass (`pytest -m db`) runs exactly the database tests.
    db_fixtures = {"db", "transactional_db", "live_server", "django_db_setup"}
    for item in items:
        if item.get_closest_marker("django_db") or db_fixtures & set(
            getattr(item, "fixturenames", ())
        ):
            item.add_marker(pytest.mark.db)


def pytest_report_header(config: pytest.Config) -> str:
    from django.conf import settings

    db = settings.DATABASES["default"]
    return f"tracegraph database: {db['ENGINE'].rsplit('.', 1)[-1]} {db.get('HOST') or ''}"


@pytest.fixture(scope="session", autouse=True)
def _database_reachable(request: pytest.FixtureRequest) -> None:
    from django.conf import settings

    db = settings.DATABASES["default"]
    if db["ENGINE"].endswith("postgresql"):
        import psycopg

        try:
            psycopg.connect(
                host=db["HOST"] or None,
                port=db["PORT"] or None,
                user=db["USER"] or None,
                dbname=db["NAME"],
                connect_timeout=3,
            ).close()
        except psycopg.OperationalError as exc:
            service_missing(
                f"PostgreSQL at {db['HOST']}:{db['PORT']} is not reachable ({exc}); start it with "
                "`pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start`"
            )
