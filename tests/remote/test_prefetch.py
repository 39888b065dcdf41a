"""The prefetch job's progress, run inline: traces counted level by level."""

from __future__ import annotations

from tracegraph.traces import jobs, remote

from .jaeger import BATCH, fetches, serve_batch, tid


def run_prefetch(trace_id: str, monkeypatch) -> tuple[str, list[tuple[int, int]]]:  # type: ignore[no-untyped-def]
    job = jobs.job_create(kind="graph")
    seen: list[tuple[int, int]] = []
    real = remote.job_update

    def spy(**changes):  # type: ignore[no-untyped-def]
        if "done" in changes:
            seen.append((changes["done"], changes["total"]))
        return real(**changes)

    monkeypatch.setattr(remote, "job_update", spy)
    remote.graph_prefetch(
        job_id=job["id"], trace_id=trace_id, depth=1, direction="both",
        max_traces=50, max_spans=20_000,
    )  # fmt: skip
    return job["id"], seen


def test_progress_grows_with_each_level_and_ends_done(jaeger, monkeypatch):
    serve_batch(jaeger)

    job_id, seen = run_prefetch(BATCH, monkeypatch)

    # The start trace (1 of 1), then its level: 1 of 7 ... 7 of 7.
    assert seen[:3] == [(0, 1), (1, 1), (1, 7)]
    assert seen[-1] == (7, 7)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)
    job = jobs.job_get(job_id=job_id)
    assert job is not None and job["state"] == "done" and job["percent"] == 100.0
    assert len(fetches(jaeger)) == 2 * 7
    # Filled the cache: the graph asks nothing more.
    remote.graph_prefetch(job_id=job_id, trace_id=BATCH, depth=1, direction="both",
                          max_traces=50, max_spans=20_000)  # fmt: skip
    assert len(fetches(jaeger)) == 2 * 7


def test_a_start_trace_that_cannot_be_fetched_fails_the_job(jaeger, monkeypatch):
    jaeger.answer(f"/api/traces/{BATCH}", 503, b"down", content_type="text/plain")
    job_id, _ = run_prefetch(BATCH, monkeypatch)
    job = jobs.job_get(job_id=job_id)
    assert job is not None and job["state"] == "failed" and "HTTP 503" in job["message"]

    job_id, _ = run_prefetch(tid(4242), monkeypatch)
    job = jobs.job_get(job_id=job_id)
    assert job is not None and job["state"] == "failed" and "not found" in job["message"]
