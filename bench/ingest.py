"""OTLP ingest over real HTTP into the server `make run` starts.

Posts batches of 1000 spans (protobuf, then JSON) to ``/v1/traces`` of a
gunicorn server on a scratch SQLite file and on PostgreSQL, and prints
spans/s next to the bound measured in the same run: parsing the same bodies
plus one raw ``executemany`` of the same rows into a bare table. DESIGN §9
targets: protobuf >= 40,000 spans/s, JSON >= 25,000 spans/s into SQLite.

    .venv/bin/python bench/ingest.py [--batches 40] [--clients 2] [--no-postgres]
"""

from __future__ import annotations

import argparse
import http.client
import os
import random
import sqlite3
import sys
import tempfile
import threading
import time
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tracegraph.settings")

from google.protobuf.json_format import MessageToDict
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

from bench._server import server
from tracegraph.ingest.otlp_json import parse_otlp_json
from tracegraph.ingest.otlp_proto import parse_otlp_protobuf
from tracegraph.traces.mapper import SPAN_COLUMNS, link_rows, span_row

PG_URL = os.environ.get("BENCH_PG_URL", "postgresql://127.0.0.1:5432/test")
SPANS_PER_TRACE = 50
T0 = time.time_ns() - 3600 * 10**9


def make_batch(n: int, seq: int, rng: random.Random) -> ExportTraceServiceRequest:
    """1000 spans of 20 traces: ~8 attributes each, one link on every tenth span."""
    req = ExportTraceServiceRequest()
    rs = req.resource_spans.add()
    rs.resource.attributes.extend(
        [
            KeyValue(key="service.name", value=AnyValue(string_value=f"svc-{seq % 7}")),
            KeyValue(key="host.name", value=AnyValue(string_value="bench-host")),
        ]
    )
    ss = rs.scope_spans.add()
    ss.scope.name = "bench"
    for i in range(n):
        trace_no = seq * 1000 + i // SPANS_PER_TRACE
        sp = ss.spans.add()
        sp.trace_id = rng.randbytes(0) + (trace_no + 1).to_bytes(16, "big")
        sp.span_id = (seq * 1_000_000 + i + 1).to_bytes(8, "big")
        if i % SPANS_PER_TRACE:
            sp.parent_span_id = (seq * 1_000_000 + i - i % SPANS_PER_TRACE + 1).to_bytes(8, "big")
        sp.name = f"GET /api/items/{i % 13}"
        sp.kind = 2 if i % SPANS_PER_TRACE == 0 else 3
        sp.start_time_unix_nano = T0 + seq * 10**9 + i * 1000
        sp.end_time_unix_nano = sp.start_time_unix_nano + rng.randint(1000, 10**7)
        sp.attributes.extend(
            [
                KeyValue(key="http.method", value=AnyValue(string_value="GET")),
                KeyValue(key="http.route", value=AnyValue(string_value="/api/items/{id}")),
                KeyValue(key="http.status_code", value=AnyValue(int_value=200)),
                KeyValue(key="net.peer.name", value=AnyValue(string_value="items.internal")),
                KeyValue(key="net.peer.port", value=AnyValue(int_value=8080)),
                KeyValue(key="thread.id", value=AnyValue(int_value=i % 16)),
                KeyValue(key="sampled", value=AnyValue(bool_value=True)),
                KeyValue(key="load", value=AnyValue(double_value=rng.random())),
            ]
        )
        if i % 10 == 5:
            link = sp.links.add()
            link.trace_id = (max(1, trace_no - 20) + 1).to_bytes(16, "big")
            link.span_id = (max(1, seq - 1) * 1_000_000 + 1).to_bytes(8, "big")
            link.attributes.append(
                KeyValue(key="link.type", value=AnyValue(string_value="async_trigger"))
            )
    return req


def to_json(req: ExportTraceServiceRequest) -> bytes:
    """OTLP/JSON as SDKs write it: hex ids (json_format would write base64)."""
    data = MessageToDict(req)
    for rs in data["resourceSpans"]:
        for ss in rs["scopeSpans"]:
            for sp in ss["spans"]:
                for key in ("traceId", "spanId", "parentSpanId"):
                    if key in sp:
                        sp[key] = _b64hex(sp[key])
                for link in sp.get("links", []):
                    link["traceId"] = _b64hex(link["traceId"])
                    link["spanId"] = _b64hex(link["spanId"])
    return orjson.dumps(data)


def _b64hex(value: str) -> str:
    import base64

    return base64.b64decode(value).hex()


def post_all(port: int, bodies: list[bytes], content_type: str, clients: int) -> float:
    """Post every body from ``clients`` keep-alive connections; return seconds."""
    queue = list(enumerate(bodies))
    lock = threading.Lock()
    errors: list[str] = []

    def worker() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        while True:
            with lock:
                if not queue:
                    return
                _, body = queue.pop()
            conn.request("POST", "/v1/traces", body, {"Content-Type": content_type})
            resp = conn.getresponse()
            resp.read()
            if resp.status != 200:
                errors.append(f"HTTP {resp.status}")

    threads = [threading.Thread(target=worker) for _ in range(clients)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    if errors:
        raise RuntimeError(f"{len(errors)} failed posts: {errors[:3]}")
    return elapsed


def bound_seconds(bodies: list[bytes], kind: str, connect) -> float:  # type: ignore[no-untyped-def]
    """Parse the same bodies and executemany the same span rows into a bare table."""
    conn, mark = connect()
    cur = conn.cursor()
    numeric = {"kind", "start_ns", "end_ns", "status_code", "flags"} | {
        c for c in SPAN_COLUMNS if c.startswith("dropped_")
    }
    cols = ", ".join(f"{c} BIGINT" if c in numeric else f"{c} TEXT" for c in SPAN_COLUMNS)
    cur.execute("DROP TABLE IF EXISTS bench_floor")
    cur.execute(f"CREATE TABLE bench_floor ({cols}, PRIMARY KEY (trace_id, span_id))")
    conn.commit()
    sql = f"INSERT INTO bench_floor VALUES ({', '.join([mark] * len(SPAN_COLUMNS))})"
    start = time.perf_counter()
    for body in bodies:
        result = (
            parse_otlp_protobuf(body) if kind == "protobuf" else parse_otlp_json(orjson.loads(body))
        )
        rows = [span_row(s) for s in result.spans]
        link_rows(result.spans)
        cur.executemany(sql, rows)
        conn.commit()
    elapsed = time.perf_counter() - start
    cur.execute("DROP TABLE bench_floor")
    conn.commit()
    conn.close()
    return elapsed


def run(label: str, env: dict[str, str], connect, batches: int, clients: int) -> list[str]:  # type: ignore[no-untyped-def]
    rng = random.Random(7)
    lines = []
    with server(env) as port:
        for kind, content_type in (
            ("protobuf", "application/x-protobuf"),
            ("json", "application/json"),
        ):
            offset = 0 if kind == "protobuf" else batches
            reqs = [make_batch(1000, offset + i, rng) for i in range(batches)]
            bodies = (
                [r.SerializeToString() for r in reqs]
                if kind == "protobuf"
                else [to_json(r) for r in reqs]
            )
            n = 1000 * batches
            # Warm-up, not timed: each worker's first requests import the
            # views, the protobuf classes and open its database connection.
            warm = [make_batch(1000, 10_000 + offset + i, rng) for i in range(2 * clients)]
            warm_bodies = [
                w.SerializeToString() if kind == "protobuf" else to_json(w) for w in warm
            ]
            post_all(port, warm_bodies, content_type, clients)
            http_s = post_all(port, bodies, content_type, clients)
            floor_s = bound_seconds(bodies, kind, connect)
            target = {"protobuf": 40_000, "json": 25_000}[kind] if label == "sqlite" else None
            lines.append(
                f"{label:<10} {kind:<9} {n / http_s:>10,.0f} spans/s over HTTP   "
                f"bound {n / floor_s:>10,.0f} spans/s (parse + executemany)   "
                f"ratio {floor_s / http_s:5.2f}" + (f"   target >= {target:,}" if target else "")
            )
            print(lines[-1], flush=True)
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=40)
    parser.add_argument("--clients", type=int, default=2)
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as var:
        db = Path(var) / "tracegraph.sqlite3"

        def sqlite_connect():  # type: ignore[no-untyped-def]
            conn = sqlite3.connect(Path(var) / "floor.sqlite3")
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            return conn, "?"

        env = {"TRACEGRAPH_VAR_DIR": var, "DATABASE_URL": ""}
        print(
            f"ingest bench: {args.batches} batches x 1000 spans per format, {args.clients} clients"
        )
        run("sqlite", env, sqlite_connect, args.batches, args.clients)
        assert db.exists()

    if not args.no_postgres:
        import psycopg

        bench_db = "tracegraph_bench"
        with psycopg.connect(PG_URL, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {bench_db}")
            admin.execute(f"CREATE DATABASE {bench_db}")
        url = PG_URL.rsplit("/", 1)[0] + "/" + bench_db

        def pg_connect():  # type: ignore[no-untyped-def]
            return psycopg.connect(url), "%s"

        with tempfile.TemporaryDirectory() as var:
            run("postgres", {"TRACEGRAPH_VAR_DIR": var, "DATABASE_URL": url}, pg_connect,
                args.batches, args.clients)  # fmt: skip
        with psycopg.connect(PG_URL, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {bench_db}")


if __name__ == "__main__":
    main()
