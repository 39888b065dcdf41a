"""Browser: the combined diagram interactive in headless Chromium (DESIGN §9).

Stores two neighbourhoods in a scratch SQLite database (a hub trace linked
with its neighbours both ways, like bench/graph.py): 25 traces x 400 spans =
10,000 spans, and 50 traces x 2,000 spans = 100,000 spans. Serves them with
gunicorn as `make serve` does, then times, in headless Chromium, navigation
to ``/graph/<hub>?level=span`` until ``window.__tracegraphReady`` (set by
static/js/graph.js once ``Plotly.react`` has resolved), and prints it next to

* the target: 10,000 spans <= 1 s, 100,000 spans <= 3 s, and
* the floor measured in the same run: the same navigation to a one-span
  trace (plotly.js loading and initialising, the first WebGL draw: what
  every diagram pays, whatever its size).

"cold" is a fresh browser context (nothing cached); "warm" a second
navigation in it (plotly.js from the HTTP cache, V8's code cache). Also
prints the figure endpoint's bytes per span, the JS heap per span over the
one-span page (CDP ``Performance.getMetrics`` JSHeapUsedSize after a GC;
target <= 1 KB per span) and the time of a pan (``Plotly.relayout`` of the
x range) on the big diagram. Last, the trace page of one 10,000-span trace
(navigation to its first paint), next to the Jaeger UI's 1.2 s.

    .venv/bin/python bench/render.py
"""

from __future__ import annotations

import os
import random
import statistics
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
_VAR = tempfile.mkdtemp(prefix="tracegraph-render-bench-")
os.environ.update(DJANGO_SETTINGS_MODULE="tracegraph.settings", TRACEGRAPH_VAR_DIR=_VAR)
os.environ.pop("DATABASE_URL", None)

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402

from bench._server import server  # noqa: E402
from tracegraph.domain import LinkRecord, SpanRecord  # noqa: E402
from tracegraph.traces.services import trace_batch_ingest  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]  # fmt: skip
MS = 1_000_000
T0 = time.time_ns() - 3600 * 10**9


def tid(hood: int, n: int) -> str:
    return f"{hood:08x}{n + 1:024x}"


def sid(t: int, s: int) -> str:
    return f"{t * 1_000_000 + s + 1:016x}"


def neighbourhood(hood: int, traces: int, per_trace: int, rng: random.Random) -> list[SpanRecord]:
    """Hub trace 0; every other trace holds 50 links into the hub, the hub root 100 out."""
    spans: list[SpanRecord] = []
    for t in range(traces):
        base = T0 + t * 3_000 * MS
        for s in range(per_trace):
            links: tuple[LinkRecord, ...] = ()
            if t > 0 and s < 50:
                links = (LinkRecord(tid(hood, t), sid(t, s), 0, tid(hood, 0),
                                    sid(0, rng.randrange(per_trace)), "async_trigger",
                                    {"link.type": "async_trigger"}),)  # fmt: skip
            elif t == 0 and s == 0:
                links = tuple(
                    LinkRecord(tid(hood, 0), sid(0, 0), i, tid(hood, 1 + i % (traces - 1)),
                               sid(1 + i % (traces - 1), 200 + i // (traces - 1)),
                               "batch_source", {"link.type": "batch_source"})
                    for i in range(100)
                )  # fmt: skip
            start = base + s * MS // 4
            spans.append(
                SpanRecord(tid(hood, t), sid(t, s), f"op-{s % 17}", start,
                           start + rng.randint(1, 50) * MS,
                           parent_span_id="" if s == 0 else sid(t, (s - 1) // 4),
                           kind=5 if links else 1, service=f"svc-{t % 9}",
                           status_code=2 if s % 97 == 5 else 0,
                           attributes={"n": s}, links=links)
            )  # fmt: skip
    return spans


def store(spans: list[SpanRecord]) -> None:
    for i in range(0, len(spans), 2000):
        trace_batch_ingest(spans=spans[i : i + 2000])


def heap(page) -> float:  # type: ignore[no-untyped-def]
    cdp = page.context.new_cdp_session(page)
    cdp.send("HeapProfiler.enable")
    cdp.send("HeapProfiler.collectGarbage")
    cdp.send("Performance.enable")
    metrics = {m["name"]: m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]}
    cdp.detach()
    return float(metrics["JSHeapUsedSize"])


def visit(browser, url: str, *, repeat: int = 2) -> tuple[list[float], float, object]:  # type: ignore[no-untyped-def]
    """Navigate ``repeat`` times in one fresh context; seconds to ready, heap, page."""
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        page.goto(url)
        page.wait_for_function("window.__tracegraphReady === true", timeout=120_000)
        times.append(time.perf_counter() - t)
        error = page.evaluate("document.getElementById('plot-status').textContent")
        if error:
            raise RuntimeError(f"{url}: {error}")
    return times, heap(page), page


def main() -> None:
    from playwright.sync_api import sync_playwright

    call_command("migrate", verbosity=0)
    rng = random.Random(7)
    sets = {10_000: (1, 25, 400), 100_000: (2, 50, 2_000)}
    for hood, traces, per in sets.values():
        store(neighbourhood(hood, traces, per, rng))
    store([SpanRecord(tid(9, 0), sid(0, 0), "alone", T0, T0 + MS, service="svc")])
    big_trace = [s for s in neighbourhood(3, 2, 10_000, rng) if s.trace_id == tid(3, 0)]
    store(big_trace)
    targets = {10_000: 1.0, 100_000: 3.0}
    aims = {10_000: 0.6, 100_000: 1.5}
    print(f"render bench: headless Chromium {CHROMIUM}, gunicorn 2x4 gthread, SQLite")
    with server({"TRACEGRAPH_VAR_DIR": _VAR}) as port, sync_playwright() as p:
        base = f"http://127.0.0.1:{port}"
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        floor, floor_heap, page = visit(browser, f"{base}/graph/{tid(9, 0)}", repeat=3)
        page.context.close()
        print(f"  floor (1-span diagram)   cold {floor[0]:6.2f} s   warm {min(floor[1:]):6.2f} s")
        for spans, (hood, traces, per) in sets.items():
            query = f"level=span&max_spans={spans * 2}&max_traces={traces * 2}&depth=1"
            figure = f"{base}/graph/{tid(hood, 0)}/figure?{query}"
            t = time.perf_counter()
            body = urllib.request.urlopen(figure, timeout=300).read()
            server_s = time.perf_counter() - t
            times, used, page = visit(browser, f"{base}/graph/{tid(hood, 0)}?{query}")
            pans = []
            for i in range(5):
                t = time.perf_counter()
                page.evaluate(
                    "(i) => Plotly.relayout('plot', {'xaxis.range': [i * 50, 400 + i * 50]})", i
                )
                pans.append(time.perf_counter() - t)
            page.context.close()
            n = traces * per
            verdict = "ok" if times[0] <= targets[spans] else "OVER"
            over_cold, over_warm = times[0] - floor[0], times[1] - min(floor[1:])
            pan_ms = statistics.median(pans) * 1000
            print(f"  {n:>7,} spans  cold {times[0]:6.2f} s   warm {times[1]:6.2f} s   "
                  f"target <= {targets[spans]:.1f} s (aim {aims[spans]} s) [{verdict} cold]   "
                  f"over floor: cold +{over_cold:.2f} s, warm +{over_warm:.2f} s")  # fmt: skip
            print(f"           figure endpoint {server_s:5.2f} s, {len(body) / n:6.0f} B/span "
                  f"({len(body) / 1e6:.1f} MB)   JS heap {(used - floor_heap) / n:6.0f} B/span "
                  f"over the 1-span page (target <= 1,024)   pan {pan_ms:.0f} ms")  # fmt: skip
        # The trace page (waterfall) of one 10,000-span trace, to its first
        # paint, next to the Jaeger UI's timeline of such a trace (DESIGN §9).
        context = browser.new_context(viewport={"width": 1400, "height": 900})
        page = context.new_page()
        times = []
        for _ in range(2):
            t = time.perf_counter()
            page.goto(f"{base}/traces/{tid(3, 0)}")
            page.evaluate(
                "() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))"
            )
            times.append(time.perf_counter() - t)
        rows = page.evaluate("document.querySelectorAll('#waterfall > li').length")
        context.close()
        print(f"  trace page, {rows:,} spans: cold {times[0]:.2f} s, warm {times[1]:.2f} s "
              f"(Jaeger UI timeline of 10,000 spans: 1.2 s, DESIGN §9)")  # fmt: skip
        auto = f"{base}/graph/{tid(2, 0)}?max_spans=200000&max_traces=100"
        times, _, page = visit(browser, auto)
        level = page.evaluate("document.getElementById('notices').textContent")
        page.context.close()
        said = "trace level, said so" if "one node per trace" in level else level[:60]
        print(f"  100,000 spans, level auto: cold {times[0]:.2f} s, warm {times[1]:.2f} s ({said})")
        browser.close()


if __name__ == "__main__":
    main()
