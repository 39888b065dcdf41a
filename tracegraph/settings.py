"""Django settings, read from the environment only.

Embedded default: SQLite in WAL mode under ``var/``, Django's local-memory
cache, Celery tasks run inline. Set ``DATABASE_URL`` and ``REDIS_URL`` for
PostgreSQL, Redis and Celery workers. Every ``TRACEGRAPH_*`` setting is
documented in README.md.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from urllib.parse import unquote, urlsplit

BASE_DIR = Path(__file__).resolve().parent.parent


class ImproperSetting(ValueError):
    pass


def envstr(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def envbool(name: str, default: bool = False) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise ImproperSetting(f"{name}={raw!r}: expected 1/0, true/false, yes/no or on/off")


def envint(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ImproperSetting(f"{name}={raw!r}: expected an integer") from None


def database_from_url(url: str) -> dict[str, object]:
    """``sqlite:///path`` or ``postgresql://user:pw@host:port/name`` to a DATABASES entry."""
    parts = urlsplit(url)
    if parts.scheme == "sqlite":
        path = unquote(parts.path)
        if path.startswith("//"):  # sqlite:////abs/path
            path = path[1:]
        elif path.startswith("/"):
            path = path[1:] if not Path(path).is_absolute() else path
        return sqlite_database(Path(path) if path else VAR_DIR / "tracegraph.sqlite3")
    if parts.scheme in {"postgres", "postgresql", "pgsql"}:
        return {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": unquote(parts.path.lstrip("/")) or "postgres",
            "USER": unquote(parts.username or ""),
            "PASSWORD": unquote(parts.password or ""),
            "HOST": parts.hostname or "",
            "PORT": str(parts.port or ""),
            "CONN_MAX_AGE": 60,
            "CONN_HEALTH_CHECKS": True,
            # Server-side binding sends a batch's column arrays as typed
            # parameters instead of one huge quoted literal (10x on ingest).
            "OPTIONS": {"server_side_binding": True},
            # One test database per checkout, so two clones can test at once.
            "TEST": {
                "NAME": os.environ.get("TRACEGRAPH_TEST_DB_NAME")
                or "test_tracegraph_" + hashlib.sha1(str(BASE_DIR).encode()).hexdigest()[:8]
            },
        }
    raise ImproperSetting(f"DATABASE_URL={url!r}: use sqlite:///path or postgresql://...")


def sqlite_database(path: Path) -> dict[str, object]:
    return {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": str(path),
        "OPTIONS": {
            # IMMEDIATE: a writer takes the lock at BEGIN, so concurrent
            # receivers queue on the busy timeout instead of failing mid-way.
            "transaction_mode": "IMMEDIATE",
            "timeout": envint("TRACEGRAPH_DB_TIMEOUT", 30),
            "init_command": (
                "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; "
                "PRAGMA temp_store=MEMORY; PRAGMA cache_size=-65536;"
            ),
        },
    }


VAR_DIR = Path(envstr("TRACEGRAPH_VAR_DIR", str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)

DEBUG = envbool("TRACEGRAPH_DEBUG", False)
SECRET_KEY = envstr("TRACEGRAPH_SECRET_KEY") or "tracegraph-embedded-insecure-key"
ALLOWED_HOSTS = [h.strip() for h in envstr("TRACEGRAPH_ALLOWED_HOSTS", "*").split(",") if h.strip()]
CSRF_TRUSTED_ORIGINS = [
    o.strip() for o in envstr("TRACEGRAPH_CSRF_TRUSTED_ORIGINS").split(",") if o.strip()
]

INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.staticfiles",
    "tracegraph.traces",
    "tracegraph.web",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "tracegraph.urls"
WSGI_APPLICATION = "tracegraph.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": False,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
            ],
        },
    }
]

DATABASE_URL = envstr("DATABASE_URL")
DATABASES = {
    "default": database_from_url(DATABASE_URL)
    if DATABASE_URL
    else sqlite_database(VAR_DIR / "tracegraph.sqlite3")
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = envstr("REDIS_URL")
# Starts every Redis name tracegraph uses: cache keys, queues (<prefix>.ingest,
# <prefix>.imports, <prefix>.maintenance), queued bodies. Two installations
# can share one Redis database with two prefixes.
TRACEGRAPH_REDIS_PREFIX = envstr("TRACEGRAPH_REDIS_PREFIX", "tracegraph")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": TRACEGRAPH_REDIS_PREFIX,
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# Celery: with no REDIS_URL, tasks run inline in the calling process.
# Queues, routes and the beat schedule are in tracegraph/celery.py.
CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_RESULT_BACKEND = REDIS_URL or None
CELERY_TASK_ALWAYS_EAGER = not REDIS_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_IGNORE_RESULT = True  # no caller reads a result: progress lives in jobs.py
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = True  # redelivered, not run twice
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_CONNECTION_TIMEOUT = 2
CELERY_BROKER_TRANSPORT_OPTIONS = {
    # A message taken by a worker that dies (SIGKILL, OOM, lost host) goes
    # back to its queue this many seconds after delivery. Must exceed the
    # longest task, or a slow task is run twice (harmless: tasks are
    # idempotent, but wasted work).
    "visibility_timeout": envint("TRACEGRAPH_BROKER_VISIBILITY_TIMEOUT", 3600),
    "socket_connect_timeout": 2,
}
# A web request must not hang on a broker that is down: fail fast, answer 503.
CELERY_TASK_PUBLISH_RETRY_POLICY = {
    "max_retries": 2,
    "interval_start": 0,
    "interval_step": 0.2,
    "interval_max": 0.5,
}
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "staticfiles"
STATIC_ROOT.mkdir(exist_ok=True)  # WhiteNoise warns when it is missing
WHITENOISE_USE_FINDERS = True  # serve from static/ without collectstatic
# WhiteNoise indexes files (and their sizes) at start; re-index on change in
# debug, or an edited file is served truncated by a running server.
WHITENOISE_AUTOREFRESH = DEBUG

# An OTLP body can be large; the receiver enforces its own limit after gunzip.
DATA_UPLOAD_MAX_MEMORY_SIZE = None
FILE_UPLOAD_MAX_MEMORY_SIZE = 8 * 1024 * 1024

# --- tracegraph's own settings (README.md lists them all) ---
TRACEGRAPH_INGEST_TOKEN = envstr("TRACEGRAPH_INGEST_TOKEN")
TRACEGRAPH_MAX_BODY_BYTES = envint("TRACEGRAPH_MAX_BODY_BYTES", 64 * 1024 * 1024)
TRACEGRAPH_BACKEND = envstr("TRACEGRAPH_BACKEND", "local")
# Remote backends (README: "Where traces come from").
TRACEGRAPH_JAEGER_URL = envstr("TRACEGRAPH_JAEGER_URL")
TRACEGRAPH_TEMPO_URL = envstr("TRACEGRAPH_TEMPO_URL")
TRACEGRAPH_BACKEND_AUTH_HEADER = envstr("TRACEGRAPH_BACKEND_AUTH_HEADER")
TRACEGRAPH_BACKEND_TIMEOUT = envint("TRACEGRAPH_BACKEND_TIMEOUT", 10)
TRACEGRAPH_OTLP_FILE = envstr("TRACEGRAPH_OTLP_FILE")
TRACEGRAPH_RETENTION_DAYS = envint("TRACEGRAPH_RETENTION_DAYS", 0)
# Background work (tracegraph/celery.py, tracegraph/traces/tasks.py).
# With TRACEGRAPH_INGEST_ASYNC and a REDIS_URL, /v1/traces validates the body,
# queues it and answers at once; a worker stores it.
TRACEGRAPH_INGEST_ASYNC = envbool("TRACEGRAPH_INGEST_ASYNC", False)
# Queued ingest batches above which the receiver answers 503 + Retry-After.
TRACEGRAPH_INGEST_QUEUE_LIMIT = envint("TRACEGRAPH_INGEST_QUEUE_LIMIT", 1000)
# Uploaded files wait here for the import task: web and workers share it.
TRACEGRAPH_UPLOAD_DIR = VAR_DIR / "uploads"
# Seconds a trace fetched from a remote backend (jaeger, tempo) stays in the
# cache, so clicking back and forth in a graph asks the backend nothing.
TRACEGRAPH_TRACE_CACHE_TTL = envint("TRACEGRAPH_TRACE_CACHE_TTL", 300)
# Results are read by the waiting web request at once (backends.fetch_trace)
# and then forgotten; this only bounds the ones nobody waited for.
CELERY_RESULT_EXPIRES = 600

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": envstr("TRACEGRAPH_LOG_LEVEL", "INFO")},
}
