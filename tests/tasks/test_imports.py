"""Uploads and large imports run as ``traces.import_file`` and report progress.

POST /upload ──files──▶ <upload dir>/<job>/<n>/<name>
     └──job id──▶ queue <prefix>.imports ──▶ worker ──▶ store
GET /api/jobs/<job> ◀── progress (Django cache) ◀──┘
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from tests.tasks.conftest import (
    VISIBILITY_TIMEOUT,
    Broker,
    Finished,
    celery_broker,
    wait_until,
)
from tests.web.otlp_bodies import export_request, ids
from tracegraph.traces import jobs
from tracegraph.traces.models import Span
from tracegraph.traces.tasks import import_file

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "public"


def otlp_file(path: Path, *, traces: int, per_trace: int) -> Path:
    spans = [ids(i, trace=t + 1) for t in range(traces) for i in range(per_trace)]
    path.write_bytes(export_request(spans).SerializeToString())
    return path


@pytest.mark.django_db
def test_without_redis_an_upload_is_imported_inline_and_reported_done(client, settings, tmp_path):
    settings.TRACEGRAPH_UPLOAD_DIR = tmp_path / "uploads"
    body = (FIXTURES / "jaeger_uimodel_ui_01.json").read_bytes()
    files = [SimpleUploadedFile("ui_01.json", body), SimpleUploadedFile("junk.txt", b"hello")]
    response = client.post("/upload", {"files": files})
    assert response.status_code == 200
    job = response.context["job"]
    assert job["state"] == "done"
    assert "spans in 1 traces" in response.content.decode()
    assert "junk.txt" in response.content.decode()  # the file that is not traces is named
    status = client.get(f"/api/jobs/{job['id']}").json()
    assert status["state"] == "done"
    assert status["percent"] == 100.0
    assert status["files"] == 2
    assert status["failed_files"] == ["junk.txt"]
    assert status["spans"] == Span.objects.count() > 0
    assert list((tmp_path / "uploads").iterdir()) == []  # the upload's files are removed


@pytest.mark.django_db
def test_an_upload_with_redis_down_is_a_503_that_keeps_nothing(client, settings, tmp_path):
    settings.TRACEGRAPH_UPLOAD_DIR = tmp_path / "uploads"
    files = {"files": SimpleUploadedFile("a.json", b"{}")}
    with celery_broker("redis://127.0.0.1:1/0"):  # the broker is down, the cache is not
        response = client.post("/upload", files)
    assert response.status_code == 503
    assert "the job queue (Redis) is unreachable" in response.content.decode()
    assert list((tmp_path / "uploads").iterdir()) == []
    settings.CACHES = {  # the cache (Redis too, in production) is down
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
        }
    }
    files = {"files": SimpleUploadedFile("a.json", b"{}")}
    assert client.post("/upload", files).status_code == 503


@pytest.mark.django_db
def test_an_unknown_job_is_a_json_404(client):
    response = client.get("/api/jobs/nope")
    assert response.status_code == 404
    assert "no job nope" in response.json()["error"]


@pytest.mark.django_db(transaction=True)
def test_an_upload_runs_on_a_worker_and_its_progress_ends_done(
    client, broker: Broker, worker: Finished, tmp_path
):
    broker.settings.TRACEGRAPH_UPLOAD_DIR = tmp_path / "uploads"
    body = otlp_file(tmp_path / "big.pb", traces=30, per_trace=100).read_bytes()
    response = client.post("/upload", {"files": SimpleUploadedFile("big.pb", body)})
    assert response.status_code == 200
    page = response.content.decode()
    job_id = response.context["job"]["id"]
    assert f'data-url="/api/jobs/{job_id}"' in page
    assert "<progress" in page and "<script>" in page  # the page polls until done

    seen = []

    def done() -> bool:
        status = client.get(f"/api/jobs/{job_id}").json()
        seen.append(status["percent"])
        return status["state"] == "done"

    wait_until(done, every=0.01)
    worker.wait("traces.import_file")
    assert seen == sorted(seen) and seen[-1] == 100.0
    assert Span.objects.count() == 3000
    assert not (tmp_path / "uploads" / job_id).exists()


def _worker(env: dict[str, str], log: Path, name: str) -> subprocess.Popen[bytes]:
    """A real ``celery -A tracegraph worker`` process, one task at a time."""
    return subprocess.Popen(
        [
            *(sys.executable, "-m", "celery", "-A", "tracegraph", "worker", "-P", "solo"),
            *("-l", "info", "-n", f"{name}@%h", "--without-mingle", "--without-gossip"),
        ],
        cwd=ROOT,
        env=env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def _counts(db: Path) -> tuple[int, int]:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        rows, distinct = conn.execute(
            "SELECT COUNT(*), COUNT(DISTINCT trace_id || '/' || span_id) FROM traces_span"
        ).fetchone()
    return rows, distinct


def test_a_worker_killed_mid_import_loses_nothing_and_stores_nothing_twice(
    broker: Broker, tmp_path
):
    # A worker process with its own SQLite file: the test database lives in
    # this process's memory, out of a subprocess's reach.
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env |= {
        "DJANGO_SETTINGS_MODULE": "tracegraph.settings",
        "TRACEGRAPH_VAR_DIR": str(tmp_path),
        "REDIS_URL": broker.url,
        "TRACEGRAPH_REDIS_PREFIX": broker.prefix,
        "TRACEGRAPH_BROKER_VISIBILITY_TIMEOUT": str(VISIBILITY_TIMEOUT),
    }
    log = tmp_path / "worker.log"
    first = _worker(env, log, "doomed")  # starts while the database is migrated
    try:
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
            cwd=ROOT,
            env=env,
            check=True,
        )
        db = tmp_path / "tracegraph.sqlite3"
        traces, per_trace = 200, 100  # 20 batches of 1000 spans
        source = otlp_file(tmp_path / "big.pb", traces=traces, per_trace=per_trace)
        job = jobs.job_create(kind="import")
        import_file.delay(job["id"], [str(source)])
        wait_until(
            lambda: (jobs.job_get(job_id=job["id"]) or {}).get("percent", 0) > 0,
            explain=lambda: log.read_text()[-3000:],
        )
        os.killpg(first.pid, signal.SIGKILL)  # no warm shutdown, no ack, no requeue
        first.wait(5)
    finally:
        if first.poll() is None:
            os.killpg(first.pid, signal.SIGKILL)
    stored, _ = _counts(db)
    assert 0 < stored < traces * per_trace, "the kill came too late to test anything"
    assert broker.length("imports") == 0  # the message is taken but not acknowledged

    # The broker hands the message out again once its visibility timeout
    # has passed; a worker starting after that restores it at once.
    time.sleep(VISIBILITY_TIMEOUT + 0.2)
    second = _worker(env, log, "heir")
    try:
        wait_until(
            lambda: (jobs.job_get(job_id=job["id"]) or {}).get("state") == "done",
            timeout=20,
            explain=lambda: log.read_text()[-3000:],
        )
    finally:
        os.killpg(second.pid, signal.SIGTERM)
        try:
            second.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(second.pid, signal.SIGKILL)
    assert _counts(db) == (traces * per_trace, traces * per_trace), log.read_text()[-3000:]
    final = jobs.job_get(job_id=job["id"])
    assert final is not None
    assert final["spans"] == traces * per_trace
    assert final["traces"] == traces
