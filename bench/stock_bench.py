"""Stock reservations on one hot SKU over HTTP: this service against two peers, and the Redis ceiling.

  hub bench stock --seconds 10 --connections 64

Variants (--variants, comma list, default all):
  redis       the stock service with Redis, 1 process
  db          the stock service database-only, 1 process
  seeds       peer, the flash-sale notes' way (docs/background.md): rate-limit key, Redis DECRBY, then a PostgreSQL
              `UPDATE .. SET stock = stock - 1, version = version + 1 WHERE sku AND version`
              after reading the version, 3 retries (10/20/40 ms) on a version conflict,
              INCRBY rollback when it still fails (answered 503)
  rowlock     peer, the common commerce-platform way: SELECT .. FOR UPDATE, UPDATE, one
              transaction per request
  redis-2w    the stock service with Redis, `--workers 2` (per-process figure = total / 2)
  ceiling     redis-benchmark on an equivalent check-and-decrement Lua script (and on the
              service's own reservation script, one reservation per call), if redis-benchmark
              is installed
  nextengine  signed Next Engine stock pushes at a steady rate to the service with Redis

Both peers are minimal Starlette apps defined here, served by uvicorn in their own
process; they use sync psycopg2 in Starlette's threadpool (40 threads, one
connection per thread) and insert a reservation row in the same transaction, as
the service does. Every request has a unique orderId and userId, quantity 1.
Each variant has a timed part (stock 10,000,000, so it never runs out) and an
oversell check (stock 1,000, 5,000 racing attempts; 201s and the database must
both say exactly 1,000).

Load generators (--client): the timed part runs `wrk` when it is installed
(`apt-get install wrk`; --client auto, the default, or wrk): keep-alive HTTP/1.1,
--load-processes threads, a Lua script that makes each request a new order and
user and counts the answers by status; a warm-up run, then the timed run. wrk
drops the answers still in flight when it stops, so after a wrk run the database
may hold up to one reservation per connection more than the 201s counted (the
check allows exactly that). Without wrk (or --client raw) the timed part runs the
Python generator, which also runs every oversell race (it reads every answer): raw
asyncio streams in spawned process(es), keep-alive HTTP/1.1, uvloop when
installed (--client httpx for httpx.AsyncClient instead). The output and the
results file name the generator.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import hashlib
import io
import json
import multiprocessing
import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from array import array
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import quote, urlsplit

import httpx

from bench.common import DEFAULT_POSTGRES_URL, free_port, machine_busy_seconds, write_results

REPO = Path(__file__).resolve().parents[1]
ALL_VARIANTS = ("redis", "db", "seeds", "rowlock", "redis-2w", "ceiling", "nextengine", "webhooks")
RESERVATION_VARIANTS = {
    "redis": "service + Redis (1 proc)",
    "db": "service DB-only (1 proc)",
    "seeds": "peer flash-sale notes way",
    "rowlock": "peer row lock",
    "redis-2w": "service + Redis (2 procs)",
}
THROUGHPUT_STOCK = 10_000_000
OVERSELL_STOCK = 1_000
OVERSELL_ATTEMPTS = 5_000
NEXTENGINE_STORE = "hub-local-store"
NEXTENGINE_KEY = "nextengine-local-key"
JST = timezone(timedelta(hours=9))
# The ceiling's script: what a reservation needs from Redis at the least (check, then decrement).
CHECK_AND_DECREMENT = ("local a = tonumber(redis.call('GET', KEYS[1])) "
                       "if a and a >= tonumber(ARGV[1]) then return redis.call('DECRBY', KEYS[1], ARGV[1]) end "
                       "return -1")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--seconds", type=float, default=10, help="timed part of each variant")
    parser.add_argument("--warmup", type=float, default=1, help="seconds of load before the timed part")
    parser.add_argument("--connections", type=int, default=64, help="concurrent connections in total")
    parser.add_argument("--load-processes", type=int, default=1, help="load generator processes")
    parser.add_argument("--client", choices=("auto", "wrk", "raw", "httpx"), default="auto",
                        help="timed part's load generator: wrk (auto: when installed), else raw asyncio or httpx; "
                             "the oversell race always runs raw (or httpx)")
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES_URL,
                        help="server to benchmark on; a fresh schema is created and dropped")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0",
                        help="keys are namespaced by a run tag and removed afterwards")
    parser.add_argument("--webhooks", type=int, default=10_000, help="signed SERP webhooks in the burst")
    parser.add_argument("--variants", default=",".join(ALL_VARIANTS),
                        help=f"comma list of {', '.join(ALL_VARIANTS)}")
    parser.add_argument("--push-rate", type=float, default=200, help="Next Engine pushes per second")
    parser.add_argument("--push-seconds", type=float, default=10)
    parser.add_argument("--keep-schema", action="store_true")


# ---------------------------------------------------------------------------------------------
# Load generator: runs in spawned processes so it never shares a GIL with a server.
# ---------------------------------------------------------------------------------------------

class _RawConnection:
    """One keep-alive HTTP/1.1 connection on asyncio streams; just enough HTTP for these servers."""

    def __init__(self, host: str, port: int):
        self.host, self.port = host, port
        self.reader = self.writer = None
        self.used = 0

    async def open(self) -> "_RawConnection":
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        self.used = 0
        return self

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None

    async def request(self, raw: bytes) -> tuple[int, bytes]:
        if self.writer is None:
            await self.open()
        reused = self.used > 0
        self.writer.write(raw)
        try:
            head = await self.reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, ConnectionError) as error:
            # The server closed an idle keep-alive connection before it read the request: send it
            # again on a new connection, once, as HTTP clients do (orderId/ts make it safe).
            if not reused or (isinstance(error, asyncio.IncompleteReadError) and error.partial):
                raise
            self.close()
            await self.open()
            self.writer.write(raw)
            head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        lower = head.lower()
        at = lower.find(b"\r\ncontent-length:")
        if at < 0:
            raise ValueError("response without Content-Length")
        length = int(lower[at + 17: lower.index(b"\r\n", at + 2)])
        body = await self.reader.readexactly(length) if length else b""
        self.used += 1
        if b"\r\nconnection: close" in lower:
            self.close()
        return status, body


def _reserve_request(path: bytes, order: bytes) -> bytes:
    body = b'{"orderId":"%b","userId":"u%b","quantity":1}' % (order, order)
    return (b"POST %b HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            b"Content-Length: %d\r\n\r\n%b" % (path, len(body), body))


def _cpu_now() -> float:
    t = os.times()
    return t.user + t.system


async def _reservation_load(spec: dict, ready, go) -> dict:
    host, port, sku = spec["host"], spec["port"], spec["sku"]
    path = f"/stock/{sku}/reservations".encode()
    prefix = spec["prefix"]
    timed = spec["mode"] == "timed"
    remaining = [spec.get("attempts", 0)]
    statuses: Counter = Counter()
    window: Counter = Counter()
    latencies = array("d")
    httpx_client = None
    if spec["client"] == "httpx":
        httpx_client = httpx.AsyncClient(base_url=f"http://{host}:{port}", timeout=60,
                                         limits=httpx.Limits(max_connections=spec["connections"],
                                                             max_keepalive_connections=spec["connections"]))
        conns = [None] * spec["connections"]
        # open the pool's connections before the start
        await asyncio.gather(*(httpx_client.get("/health") for _ in range(spec["connections"])))
    else:
        conns = await asyncio.gather(*(_RawConnection(host, port).open() for _ in range(spec["connections"])))
    ready.put(spec["index"])
    await asyncio.get_running_loop().run_in_executor(None, go.wait)
    cpu_start = _cpu_now()
    started = time.perf_counter()
    window_start = started + spec.get("warmup", 0)
    window_end = window_start + spec.get("seconds", 0)

    async def worker(number: int, conn) -> None:
        n = 0
        while True:
            sent = time.perf_counter()
            if timed:
                if sent >= window_end:
                    return
            else:
                if remaining[0] <= 0:
                    return
                remaining[0] -= 1
            order = b"%b-%d-%d" % (prefix, number, n)
            n += 1
            try:
                if httpx_client is not None:
                    body = b'{"orderId":"%b","userId":"u%b","quantity":1}' % (order, order)
                    answer = await httpx_client.post(path.decode(), content=body,
                                                     headers={"Content-Type": "application/json"})
                    status = answer.status_code
                else:
                    status, _ = await conn.request(_reserve_request(path, order))
            except (OSError, ValueError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, httpx.HTTPError):
                status = 0
                if conn is not None:
                    conn.close()
                await asyncio.sleep(0.05)
            done = time.perf_counter()
            statuses[status] += 1
            if not timed or window_start <= sent < window_end:
                window[status] += 1
                latencies.append(done - sent)

    await asyncio.gather(*(worker(number, conn) for number, conn in enumerate(conns)))
    elapsed = time.perf_counter() - started
    cpu = _cpu_now() - cpu_start
    for conn in conns:
        if conn is not None:
            conn.close()
    if httpx_client is not None:
        await httpx_client.aclose()
    return {"index": spec["index"], "statuses": dict(statuses), "window": dict(window),
            "latencies": latencies.tobytes(), "elapsed": elapsed, "cpu_seconds": cpu}


def _push_query(code: str, stock: str, now: datetime) -> str:
    stamp = now.astimezone(JST).strftime("%Y%m%d%H%M%S")
    values = {"StoreAccount": NEXTENGINE_STORE, "Code": code, "Stock": stock, "ts": stamp}
    signed = "&".join(f"{name}={value}" for name, value in values.items()) + NEXTENGINE_KEY
    query = "&".join(f"{name}={quote(value, safe='')}" for name, value in values.items())
    return f"{query}&.sig={hashlib.md5(signed.encode()).hexdigest()}"


async def _push_load(spec: dict, ready, go) -> dict:
    """Open loop: push i is due at start + i / rate, whatever the answers before it took."""
    host, port, rate, codes = spec["host"], spec["port"], spec["rate"], spec["codes"]
    total = int(rate * spec["seconds"])
    idle = [await _RawConnection(host, port).open() for _ in range(spec["connections"])]
    ready.put(spec["index"])
    await asyncio.get_running_loop().run_in_executor(None, go.wait)
    from_due, from_send = array("d"), array("d")
    processed: Counter = Counter()
    statuses: Counter = Counter()
    most_in_flight = [0]
    in_flight = [0]
    pattern = re.compile(rb"<Processed>(-?\d+)</Processed>")

    async def push(raw: bytes, due: float) -> None:
        conn = idle.pop() if idle else _RawConnection(host, port)
        in_flight[0] += 1
        most_in_flight[0] = max(most_in_flight[0], in_flight[0])
        sent = time.perf_counter()
        try:
            status, body = await conn.request(raw)
            match = pattern.search(body)
            processed[int(match.group(1)) if match else "none"] += 1
        except (OSError, ValueError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            status = 0
            conn.close()
        done = time.perf_counter()
        in_flight[0] -= 1
        idle.append(conn)
        statuses[status] += 1
        from_due.append(done - due)
        from_send.append(done - sent)

    tasks = set()
    started = time.perf_counter() + 0.05
    for i in range(total):
        due = started + i / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        code = codes[i % len(codes)]
        target = f"/webhooks/nextengine/stock?{_push_query(code, str(i), datetime.now(timezone.utc))}"
        raw = f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode()
        task = asyncio.create_task(push(raw, due))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    await asyncio.gather(*list(tasks))
    elapsed = time.perf_counter() - started
    for conn in idle:
        conn.close()
    return {"index": spec["index"], "sent": total, "elapsed": elapsed, "statuses": dict(statuses),
            "processed": {str(k): v for k, v in processed.items()}, "most_in_flight": most_in_flight[0],
            "from_due": from_due.tobytes(), "from_send": from_send.tobytes()}


async def _webhook_load(spec: dict, ready, go) -> dict:
    """Closed loop: `total` signed SERP webhooks over `connections` keep-alive connections, as fast as answered."""
    from commerce_core.webhooks.signatures import serp_signature

    host, port, total, secret, tag = spec["host"], spec["port"], spec["total"], spec["secret"], spec["tag"]
    connections = [await _RawConnection(host, port).open() for _ in range(spec["connections"])]
    ready.put(spec["index"])
    await asyncio.get_running_loop().run_in_executor(None, go.wait)
    latencies, statuses = array("d"), Counter()
    next_index = [0]

    async def worker(conn: _RawConnection) -> None:
        while next_index[0] < total:
            n = next_index[0]
            next_index[0] += 1
            body = (b'{"eventId":"evt-%b-%d","eventType":"product.updated","productId":"SERP-%07d",'
                    b'"occurredAt":"2026-03-01T00:00:00Z"}' % (tag.encode(), n, n % spec["products"]))
            stamp = str(int(time.time()))
            raw = (b"POST /webhooks/serp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                   b"X-Serp-Timestamp: %b\r\nX-Serp-Signature: %b\r\nContent-Length: %d\r\n\r\n%b"
                   % (stamp.encode(), serp_signature(secret, stamp, body).encode(), len(body), body))
            sent = time.perf_counter()
            try:
                status, _ = await conn.request(raw)
            except (OSError, ValueError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
                status = 0
                conn.close()
            latencies.append(time.perf_counter() - sent)
            statuses[status] += 1

    started = time.perf_counter()
    await asyncio.gather(*(worker(conn) for conn in connections))
    elapsed = time.perf_counter() - started
    for conn in connections:
        conn.close()
    return {"index": spec["index"], "sent": total, "elapsed": elapsed, "statuses": dict(statuses),
            "from_send": latencies.tobytes()}


def _generator_main(kind: str, spec: dict, ready, go, results) -> None:
    try:
        import uvloop
        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    except ImportError:
        pass
    try:
        load = {"reserve": _reservation_load, "push": _push_load, "webhook": _webhook_load}[kind]
        result = asyncio.run(load(spec, ready, go))
    except BaseException as error:  # tell the parent instead of leaving it waiting
        ready.put(spec["index"])
        result = {"index": spec["index"], "error": repr(error)}
    results.put(result)


def _run_generators(kind: str, specs: list[dict], timeout: float, on_go=None) -> list[dict]:
    context = multiprocessing.get_context("spawn")
    ready, results, go = context.Queue(), context.Queue(), context.Event()
    processes = [context.Process(target=_generator_main, args=(kind, spec, ready, go, results), daemon=True)
                 for spec in specs]
    try:
        for process in processes:
            process.start()
        waiting, deadline = len(processes), time.monotonic() + 120
        while waiting:
            try:
                ready.get(timeout=0.5)
                waiting -= 1
            except queue.Empty:
                if time.monotonic() > deadline or not all(process.is_alive() for process in processes):
                    raise RuntimeError("a load generator process died or did not get ready") from None
        if on_go:
            on_go()
        go.set()
        answers = [results.get(timeout=timeout) for _ in processes]
        for process in processes:
            process.join(timeout=10)
    finally:
        for process in processes:
            if process.is_alive():
                process.terminate()
                process.join(timeout=5)
    errors = [a["error"] for a in answers if "error" in a]
    if errors:
        raise RuntimeError(f"load generator failed: {errors[0]}")
    return answers


def _split(total: int, parts: int) -> list[int]:
    return [total // parts + (1 if i < total % parts else 0) for i in range(parts)]


# wrk's script: every request a new order and user (<prefix><thread>-<n>), answers counted by status; done()
# prints one JSON line (latency in microseconds).
WRK_SCRIPT = r"""
local threads, counter, prefix = {}, 0, ""
statuses = {}  -- a global: done() reads each thread's with thread:get
function setup(thread)
  thread:set("number", #threads)
  table.insert(threads, thread)
end
function init(args)
  prefix = args[1] .. wrk.thread:get("number") .. "-"
end
function request()
  counter = counter + 1
  local order = prefix .. counter
  return wrk.format("POST", nil, {["Content-Type"] = "application/json"},
                    '{"orderId":"' .. order .. '","userId":"u' .. order .. '","quantity":1}')
end
function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end
function done(summary, latency, requests)
  local totals, counts = {}, {}
  for _, thread in ipairs(threads) do
    for status, n in pairs(thread:get("statuses")) do totals[status] = (totals[status] or 0) + n end
  end
  for status, n in pairs(totals) do counts[#counts + 1] = string.format('"%d": %d', status, n) end
  local e = summary.errors
  io.write(string.format('WRK {"statuses": {%s}, "duration_us": %d, "socket_errors": %d, "p50_us": %d, '
    .. '"p99_us": %d, "max_us": %d}\n', table.concat(counts, ", "), summary.duration,
    e.connect + e.read + e.write + e.timeout, latency:percentile(50), latency:percentile(99), latency.max))
end
"""


def _generator(args) -> str:
    if args.client == "auto":
        return "wrk" if shutil.which("wrk") else "raw"
    return args.client


def _wrk(url: str, sku: str, args, prefix: str, seconds: float, script: Path) -> dict:
    """One wrk run: answers by status (0 = socket errors), latency percentiles, wrk's CPU seconds."""
    import resource

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    done = subprocess.run(["wrk", "-t", str(max(1, args.load_processes)), "-c", str(args.connections),
                           "-d", f"{seconds:g}s", "--timeout", "60s", "-s", str(script),
                           f"{url}/stock/{sku}/reservations", "--", prefix],
                          capture_output=True, text=True, timeout=seconds + 120)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    line = next((line for line in done.stdout.splitlines() if line.startswith("WRK ")), None)
    if done.returncode or line is None:
        raise RuntimeError(f"wrk failed: {(done.stderr or done.stdout)[-500:]}")
    out = json.loads(line[4:])
    out["statuses"] = Counter({int(status): count for status, count in out["statuses"].items()})
    if out["socket_errors"]:
        out["statuses"][0] += out["socket_errors"]
    out["cpu_seconds"] = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    return out


def _wrk_run(url: str, sku: str, args, prefix: str, measure_pids) -> dict:
    """The timed part with wrk: a warm-up run, then the timed run. wrk drops the answers still in flight when it
    stops (at most one per connection): those reservations are in the database without a counted 201."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as handle:
        handle.write(WRK_SCRIPT)
    script = Path(handle.name)
    try:
        warm = _wrk(url, sku, args, f"{prefix}w", args.warmup, script) if args.warmup > 0 else None
        servers, machine, wall = _tree_cpu(measure_pids), machine_busy_seconds(), time.perf_counter()
        load = os.getloadavg()
        timed = _wrk(url, sku, args, f"{prefix}t", args.seconds, script)
        wall = time.perf_counter() - wall
    finally:
        script.unlink()
    seconds = timed["duration_us"] / 1e6
    window = timed["statuses"]
    statuses = window + (warm["statuses"] if warm else Counter())
    return {
        "generator": "wrk",
        "statuses": dict(sorted(statuses.items())),
        "timed_statuses": dict(sorted(window.items())),
        "requests_per_second": round(sum(window.values()) / seconds, 1),
        "reservations_per_second": round(window.get(201, 0) / seconds, 1),
        "p50_ms": round(timed["p50_us"] / 1000, 2),
        "p99_ms": round(timed["p99_us"] / 1000, 2),
        "max_ms": round(timed["max_us"] / 1000, 2),
        "seconds": round(seconds, 2),
        "dropped_at_stop_at_most": args.connections * (2 if warm else 1),
        "load_average_before": [round(x, 2) for x in load],
        "cpu_seconds": {
            "load_generator": round(timed["cpu_seconds"], 2),
            "server": round(_tree_cpu(measure_pids) - servers, 2),
            "machine": round(machine_busy_seconds() - machine, 2),
            "wall": round(wall, 2),
        },
    }


def _reservation_run(url: str, sku: str, args, prefix: str, *, mode: str, attempts: int = 0,
                     measure_pids=None) -> dict:
    if mode == "timed" and _generator(args) == "wrk":
        return _wrk_run(url, sku, args, prefix, measure_pids or [])
    parts = urlsplit(url)
    processes = max(1, min(args.load_processes, args.connections))
    specs = [{"index": i, "host": parts.hostname, "port": parts.port, "sku": sku, "connections": connections,
              "prefix": f"{prefix}{i}".encode(), "mode": mode, "warmup": args.warmup, "seconds": args.seconds,
              "attempts": share, "client": "httpx" if args.client == "httpx" else "raw"}
             for i, (connections, share) in enumerate(zip(_split(args.connections, processes),
                                                          _split(attempts, processes)))]
    cpu_before: dict = {}

    def on_go():
        cpu_before["servers"] = _tree_cpu(measure_pids or [])
        cpu_before["machine"] = machine_busy_seconds()
        cpu_before["wall"] = time.perf_counter()
        cpu_before["loadavg"] = os.getloadavg()

    answers = _run_generators("reserve", specs, timeout=args.warmup + args.seconds + 300, on_go=on_go)
    wall = time.perf_counter() - cpu_before["wall"]
    statuses, window = Counter(), Counter()
    latencies = array("d")
    for answer in answers:
        statuses.update({int(k): v for k, v in answer["statuses"].items()})
        window.update({int(k): v for k, v in answer["window"].items()})
        latencies.frombytes(answer["latencies"])
    import numpy as np

    lat = np.frombuffer(latencies, dtype=np.float64) * 1000 if latencies else np.zeros(1)
    seconds = args.seconds if mode == "timed" else max(a["elapsed"] for a in answers)
    result = {
        "generator": specs[0]["client"],
        "statuses": dict(sorted(statuses.items())),
        "timed_statuses": dict(sorted(window.items())),
        "requests_per_second": round(sum(window.values()) / seconds, 1),
        "reservations_per_second": round(window.get(201, 0) / seconds, 1),
        "p50_ms": round(float(np.percentile(lat, 50)), 2),
        "p99_ms": round(float(np.percentile(lat, 99)), 2),
        "max_ms": round(float(lat.max()), 2),
        "seconds": round(seconds, 2),
        "dropped_at_stop_at_most": 0,  # every answer is read before a connection stops
        "load_average_before": [round(x, 2) for x in cpu_before["loadavg"]],
        "cpu_seconds": {
            "load_generator": round(sum(a["cpu_seconds"] for a in answers), 2),
            "server": round(_tree_cpu(measure_pids or []) - cpu_before["servers"], 2),
            "machine": round(machine_busy_seconds() - cpu_before["machine"], 2),
            "wall": round(wall, 2),
        },
    }
    return result


# ---------------------------------------------------------------------------------------------
# The two peers, each a minimal Starlette app in its own uvicorn process.
# ---------------------------------------------------------------------------------------------

def _serve_peer(kind: str, port: int, pg: dict, redis_url: str, namespace: str) -> None:
    import threading

    import orjson
    import psycopg2
    import redis as redis_sync
    import uvicorn
    from starlette.applications import Starlette
    from starlette.concurrency import run_in_threadpool
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    local = threading.local()
    red = redis_sync.Redis.from_url(redis_url) if kind == "seeds" else None
    insert = "INSERT INTO peer_reservations (order_id, sku, user_id, quantity) VALUES (%s, %s, %s, %s)"

    def connection():
        conn = getattr(local, "conn", None)
        if conn is None or conn.closed:
            conn = local.conn = psycopg2.connect(**pg)
        return conn

    def row_lock(sku: str, order: str, user: str, quantity: int) -> tuple[int, dict]:
        conn = connection()
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT stock FROM peer_stock WHERE sku = %s FOR UPDATE", (sku,))
                row = cur.fetchone()
                if row is None or row[0] < quantity:
                    conn.rollback()
                    return (404, {"error": "unknown_sku"}) if row is None else (409, {"error": "out_of_stock"})
                cur.execute("UPDATE peer_stock SET stock = stock - %s WHERE sku = %s", (quantity, sku))
                cur.execute(insert, (order, sku, user, quantity))
            conn.commit()
        except Exception:
            conn.rollback()
            raise
        return 201, {"orderId": order, "sku": sku, "quantity": quantity}

    def seeds_way(sku: str, order: str, user: str, quantity: int) -> tuple[int, dict]:
        if not red.set(f"{namespace}:rate:{user}", 1, nx=True, px=1000):  # §2D one order per second
            return 429, {"error": "rate_limited"}
        key = f"{namespace}:stock:{sku}"
        if red.decrby(key, quantity) < 0:  # Layer 1
            red.incrby(key, quantity)
            return 409, {"error": "out_of_stock"}
        conn = connection()
        try:
            for attempt in range(4):  # Layer 3 + Layer 4: version check, 3 retries 10/20/40 ms
                with conn.cursor() as cur:
                    cur.execute("SELECT version FROM peer_stock WHERE sku = %s", (sku,))
                    (version,) = cur.fetchone()
                    cur.execute("UPDATE peer_stock SET stock = stock - %s, version = version + 1 "
                                "WHERE sku = %s AND version = %s", (quantity, sku, version))
                    if cur.rowcount == 1:
                        cur.execute(insert, (order, sku, user, quantity))
                        conn.commit()
                        return 201, {"orderId": order, "sku": sku, "quantity": quantity}
                conn.rollback()
                if attempt < 3:
                    time.sleep(0.01 * 2 ** attempt)
        except Exception:
            conn.rollback()
            red.incrby(key, quantity)
            raise
        red.incrby(key, quantity)  # rollback
        return 503, {"error": "version_conflict"}

    handler = row_lock if kind == "rowlock" else seeds_way

    async def reserve(request: Request) -> Response:
        body = orjson.loads(await request.body())
        status, answer = await run_in_threadpool(handler, request.path_params["sku"], body["orderId"],
                                                 body["userId"], int(body.get("quantity", 1)))
        return Response(orjson.dumps(answer), status_code=status, media_type="application/json")

    async def health(request: Request) -> Response:
        return Response(b'{"status":"ok"}', media_type="application/json")

    app = Starlette(routes=[Route("/stock/{sku}/reservations", reserve, methods=["POST"]),
                            Route("/health", health, methods=["GET"])])
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


# ---------------------------------------------------------------------------------------------
# Processes, CPU, PostgreSQL and Redis helpers
# ---------------------------------------------------------------------------------------------

def _children(pid: int) -> list[int]:
    found = []
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            for child in (task / "children").read_text().split():
                found.append(int(child))
                found.extend(_children(int(child)))
    except OSError:
        pass
    return found


def _tree_cpu(pids: list[int]) -> float:
    total = 0.0
    for pid in {p for root in pids for p in [root, *_children(root)]}:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except OSError:
            pass
    return total


class _Server:
    """A server process started here; stopped (and any child it left) in stop()."""

    def __init__(self, label: str, command: list[str], env: dict, logdir: Path, processes: int = 1):
        self.label = label
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = logdir / f"{label}.log"
        with open(self.log, "wb") as log:
            argv = ([str(self.port) if part == "{port}" else part for part in command] if "{port}" in command
                    else [*command, "--port", str(self.port)])
            self.process = subprocess.Popen(argv, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
        self.pids: list[int] = []
        deadline = time.monotonic() + 60
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"{label} exited at start:\n{self.log.read_text()[-3000:]}")
            try:
                if httpx.get(f"{self.url}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"{label} did not start:\n{self.log.read_text()[-3000:]}")
            time.sleep(0.1)
        if processes > 1:  # let every worker finish its start-up
            time.sleep(2)

    def stop(self) -> None:
        if self.process.poll() is None:
            children = _children(self.process.pid)
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
            for pid in children:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass  # already gone


def _pg_params(postgres_url: str, schema: str) -> dict:
    from sqlalchemy.engine import make_url

    url = make_url(postgres_url)
    params = {"host": url.host or "127.0.0.1", "port": url.port or 5432, "user": url.username or "postgres",
              "dbname": url.database, "options": f"-csearch_path={schema}"}
    if url.password:
        params["password"] = url.password
    return params


def _percentiles(raw: bytes) -> dict:
    import numpy as np

    values = np.frombuffer(raw, dtype=np.float64) * 1000
    if not len(values):
        return {"p50_ms": None, "p99_ms": None, "max_ms": None}
    return {"p50_ms": round(float(np.percentile(values, 50)), 2), "p99_ms": round(float(np.percentile(values, 99)), 2),
            "max_ms": round(float(values.max()), 2)}


def _redis_cleanup(redis_url: str, tag: str) -> int:
    import redis as redis_sync

    client = redis_sync.Redis.from_url(redis_url)
    removed = 0
    batch = []
    for key in client.scan_iter(match=f"*{tag}*", count=10_000):
        batch.append(key)
        if len(batch) >= 5000:
            removed += client.unlink(*batch)
            batch = []
    if batch:
        removed += client.unlink(*batch)
    client.close()
    return removed


# ---------------------------------------------------------------------------------------------
# Variants
# ---------------------------------------------------------------------------------------------

def _service_env(database_url: str, redis_url: str) -> dict:
    env = dict(os.environ)
    env.update(HUB_ENV="local", HUB_DATABASE_URL=database_url, HUB_REDIS_URL=redis_url, STOCK_HOLD_SECONDS="3600",
               NEXTENGINE_STORE_ACCOUNT=NEXTENGINE_STORE, NEXTENGINE_AUTH_KEY=NEXTENGINE_KEY)
    return env


def _set_service_stock(url: str, items: dict[str, int]) -> None:
    answer = httpx.put(f"{url}/stock", json={"items": [{"sku": s, "quantity": q} for s, q in items.items()]},
                       headers={"Idempotency-Key": f"bench-{uuid.uuid4().hex}"}, timeout=60)
    if answer.status_code != 200:
        raise RuntimeError(f"PUT /stock answered {answer.status_code}: {answer.text}")


def _settled(engine, sku: str, table: str, column: str) -> None:
    """Wait until the requests a stopped load generator left in flight are done: the SKU's row holds still."""
    last, deadline = None, time.monotonic() + 30
    while time.monotonic() < deadline:
        with engine.connect() as conn:
            now = conn.exec_driver_sql(f"SELECT {column} FROM {table} WHERE sku = %(sku)s", {"sku": sku}).scalar()
        if now == last:
            return
        last = now
        time.sleep(0.3)


def _service_level(engine, sku: str) -> dict:
    from commerce_core.stock.ledger import ledger_totals

    _settled(engine, sku, "stock_levels", "reserved")
    with engine.connect().execution_options(isolation_level="REPEATABLE READ") as conn:  # one snapshot
        on_hand, reserved = conn.exec_driver_sql(
            "SELECT on_hand, reserved FROM stock_levels WHERE sku = %(sku)s", {"sku": sku}).one()
        rows = conn.exec_driver_sql("SELECT count(*) FROM stock_reservations WHERE sku = %(sku)s",
                                    {"sku": sku}).scalar()
        ledger = ledger_totals(conn, [sku]).get(sku)
    return {"on_hand": on_hand, "reserved": reserved, "reservation_rows": rows,
            "ledger_on_hand": ledger[0] if ledger else None, "ledger_reserved": ledger[1] if ledger else None,
            "ledger_matches_levels": ledger == (on_hand, reserved)}


def _peer_level(engine, sku: str, initial: int) -> dict:
    _settled(engine, sku, "peer_stock", "stock")
    with engine.connect().execution_options(isolation_level="REPEATABLE READ") as conn:  # one snapshot
        stock = conn.exec_driver_sql("SELECT stock FROM peer_stock WHERE sku = %(sku)s", {"sku": sku}).scalar()
        rows = conn.exec_driver_sql("SELECT count(*) FROM peer_reservations WHERE sku = %(sku)s",
                                    {"sku": sku}).scalar()
    return {"stock": stock, "reserved": initial - stock, "reservation_rows": rows}


def _reservation_variant(name: str, args, ctx: dict) -> dict:
    engine, tag = ctx["engine"], ctx["tag"]
    hot, small = f"HOT-{tag}-{name}", f"OVS-{tag}-{name}"
    peer = name in ("seeds", "rowlock")
    workers = 2 if name == "redis-2w" else 1
    if peer:
        ns = f"bench:{tag}"
        command = [sys.executable, "-c", "import json, sys; from bench.stock_bench import _serve_peer; "
                   "kind, pg, redis_url, ns = json.loads(sys.argv[1]); "
                   "_serve_peer(kind, int(sys.argv[2]), pg, redis_url, ns)",
                   json.dumps([name, ctx["pg"], args.redis_url, ns]), "{port}"]
        env = dict(os.environ)
    else:
        ns = ""
        command = [sys.executable, "-m", "stock_service", "--workers", str(workers)]
        env = _service_env(ctx["database_url"], "" if name == "db" else args.redis_url)
    print(f"[bench] {RESERVATION_VARIANTS[name]}: starting ...", flush=True)
    server = _Server(name, command, env, ctx["logdir"], processes=workers)
    ctx["servers"].append(server)
    result: dict = {"label": RESERVATION_VARIANTS[name], "processes": workers}
    try:
        if peer:
            import redis as redis_sync

            red = redis_sync.Redis.from_url(args.redis_url)
            with engine.begin() as conn:
                for sku, stock in ((hot, THROUGHPUT_STOCK), (small, OVERSELL_STOCK)):
                    conn.exec_driver_sql("INSERT INTO peer_stock (sku, stock, version) VALUES (%(s)s, %(q)s, 0)",
                                         {"s": sku, "q": stock})
                    if name == "seeds":  # sync_stock_to_redis
                        red.set(f"{ns}:stock:{sku}", stock)
        else:
            _set_service_stock(server.url, {hot: THROUGHPUT_STOCK, small: OVERSELL_STOCK})
        pids = [server.process.pid]
        print(f"[bench]   timed: {args.warmup:g}s warm-up + {args.seconds:g}s, {args.connections} connections, "
              f"stock {THROUGHPUT_STOCK:,} ...", flush=True)
        timed = _reservation_run(server.url, hot, args, f"t{tag}{name}", mode="timed",
                                 measure_pids=pids)
        result.update(timed)
        acked = timed["statuses"].get(201, 0)
        level = _peer_level(engine, hot, THROUGHPUT_STOCK) if peer else _service_level(engine, hot)
        # Every acknowledged reservation is recorded; beyond those, only the answers wrk dropped at its stop.
        result["timed_check"] = {"acknowledged_201": acked, **level, "acknowledged_recorded": (
            level["reserved"] == level["reservation_rows"]
            and acked <= level["reserved"] <= acked + timed["dropped_at_stop_at_most"])}
        cpu = timed["cpu_seconds"]
        print(f"[bench]   {timed['reservations_per_second']:,.0f} reservations/s "
              f"({timed['requests_per_second']:,.0f} requests/s), p50 {timed['p50_ms']} ms, "
              f"p99 {timed['p99_ms']} ms; statuses {timed['timed_statuses']}; CPU s over {cpu['wall']}s: "
              f"server {cpu['server']}, generator {cpu['load_generator']}, whole machine {cpu['machine']} "
              f"(load average before {timed['load_average_before'][0]})", flush=True)
        print(f"[bench]   acknowledged 201s {acked:,}, recorded reserved {level['reserved']:,}, rows "
              f"{level['reservation_rows']:,} (answers dropped at the generator's stop: at most "
              f"{timed['dropped_at_stop_at_most']})"
              + ("" if peer else f", ledger == stock_levels: {level['ledger_matches_levels']}"), flush=True)
        print(f"[bench]   oversell check: stock {OVERSELL_STOCK:,}, {OVERSELL_ATTEMPTS:,} attempts racing ...",
              flush=True)
        race = _reservation_run(server.url, small, args, f"r{tag}{name}", mode="count",
                                attempts=OVERSELL_ATTEMPTS)
        won = race["statuses"].get(201, 0)
        level = _peer_level(engine, small, OVERSELL_STOCK) if peer else _service_level(engine, small)
        oversell = max(0, won - OVERSELL_STOCK, level["reserved"] - OVERSELL_STOCK,
                       level["reservation_rows"] - OVERSELL_STOCK)
        check = {"attempts": OVERSELL_ATTEMPTS, "stock": OVERSELL_STOCK, "statuses": race["statuses"],
                 "won_201": won, **level, "oversell": oversell,
                 "exact": won == level["reserved"] == level["reservation_rows"] == OVERSELL_STOCK}
        if name == "seeds":
            left = red.get(f"{ns}:stock:{small}")
            check["redis_counter_left"] = int(left) if left is not None else None
            check["redis_matches_db"] = check["redis_counter_left"] == level["stock"]
        result["oversell_check"] = check
        result["oversell"] = oversell
        print(f"[bench]   201s {won:,}, database reserved {level['reserved']:,}, rows {level['reservation_rows']:,}"
              f", oversell {oversell}, statuses {race['statuses']}"
              + ("" if peer else f", ledger == stock_levels: {level['ledger_matches_levels']}")
              + (f", Redis counter {check['redis_counter_left']} vs DB stock {level['stock']}"
                 if name == "seeds" else ""), flush=True)
        if peer:
            red.close()
    finally:
        server.stop()
        ctx["servers"].remove(server)
    return result


def _redis_benchmark(args, tag: str) -> dict:
    executable = shutil.which("redis-benchmark")
    if not executable:
        print("[bench] redis-benchmark is not installed: no Redis ceiling", flush=True)
        return {"available": False}
    import redis as redis_sync

    from stock_service.redis_stock import _RESERVE

    parts = urlsplit(args.redis_url)
    base = [executable, "-h", parts.hostname or "127.0.0.1", "-p", str(parts.port or 6379), "-c",
            str(args.connections), "-P", "1", "--csv"]
    if parts.password:
        base += ["-a", parts.password]
    if parts.path.strip("/"):
        base += ["--dbnum", parts.path.strip("/")]
    key = f"stock:available:{{CEIL-{tag}}}"
    red = redis_sync.Redis.from_url(args.redis_url)
    red.set(key, 10**12)
    runs = {
        "check_and_decrement": base + ["-n", "200000", "EVAL", CHECK_AND_DECREMENT, "1", key, "1"],
        "service_reserve_script": base + ["-n", "200000", "-r", "1000000000", "EVAL", _RESERVE, "3", key,
                                          f"stock:answer:reserve:c{tag}-__rand_int__",
                                          f"stock:orders:c{tag}-__rand_int__", "1000", "30000", "1"],
    }
    out = {"available": True}
    try:
        for label, command in runs.items():
            print(f"[bench] redis-benchmark EVAL ({label}), 200,000 calls, {args.connections} connections ...",
                  flush=True)
            done = subprocess.run(command, capture_output=True, text=True, timeout=300)
            rows = list(csv.reader(io.StringIO(done.stdout)))
            header = next((row for row in rows if row and row[0] == "test"), None)
            data = [row for row in rows if header and len(row) == len(header) and row[0] != "test"]
            if done.returncode or not data:
                out[label] = {"error": (done.stderr or done.stdout)[-500:]}
                print(f"[bench]   failed: {out[label]['error']}", flush=True)
                continue
            values = {name: float(value) for name, value in zip(header[1:], data[-1][1:])}
            out[label] = {"requests_per_second": values["rps"], "p50_ms": values["p50_latency_ms"],
                          "p99_ms": values["p99_latency_ms"]}
            print(f"[bench]   {values['rps']:,.0f} calls/s, p50 {values['p50_latency_ms']} ms, "
                  f"p99 {values['p99_latency_ms']} ms", flush=True)
    finally:
        red.delete(key)
        red.close()
    return out


def _nextengine_variant(args, ctx: dict) -> dict:
    tag, engine = ctx["tag"], ctx["engine"]
    print(f"[bench] Next Engine pushes: {args.push_rate:g}/s for {args.push_seconds:g}s to the service with Redis "
          "...", flush=True)
    server = _Server("nextengine", [sys.executable, "-m", "stock_service"],
                     _service_env(ctx["database_url"], args.redis_url), ctx["logdir"])
    ctx["servers"].append(server)
    try:
        codes = [f"NE-{tag}-{n:03d}" for n in range(50)]
        _set_service_stock(server.url, {code: 100 for code in codes})
        parts = urlsplit(server.url)
        spec = {"index": 0, "host": parts.hostname, "port": parts.port, "rate": args.push_rate,
                "seconds": args.push_seconds, "codes": codes, "connections": 16}
        [answer] = _run_generators("push", [spec], timeout=args.push_seconds + 300)
        with engine.connect() as conn:
            outcomes = dict(conn.exec_driver_sql(
                "SELECT outcome, count(*) FROM inventory_sync_log WHERE sku LIKE %(p)s GROUP BY outcome",
                {"p": f"NE-{tag}-%"}).all())
    finally:
        server.stop()
        ctx["servers"].remove(server)
    result = {"rate": args.push_rate, "sent": answer["sent"], "achieved_rate": round(answer["sent"] / answer["elapsed"], 1),
              "statuses": answer["statuses"], "processed": answer["processed"], "logged_outcomes": outcomes,
              "most_in_flight": answer["most_in_flight"],
              "acknowledge": _percentiles(answer["from_send"]), "acknowledge_from_due": _percentiles(answer["from_due"])}
    ack = result["acknowledge"]
    print(f"[bench]   {answer['sent']:,} pushes at {result['achieved_rate']:g}/s: acknowledge p50 {ack['p50_ms']} ms, "
          f"p99 {ack['p99_ms']} ms (from due time p99 {result['acknowledge_from_due']['p99_ms']} ms); "
          f"Processed {answer['processed']}; logged {outcomes}", flush=True)
    return result


def _webhooks_variant(args, ctx: dict) -> dict:
    """A burst of signed SERP webhooks at the service; then what the sensor's next tick asks for."""
    from dagster import build_sensor_context

    from definitions import defs
    from resources import CatalogDatabase
    from sensors.supplier_events import COMMIT_LAG, supplier_events_sensor
    from stock_service.settings import LOCAL_SERP_WEBHOOK_SECRET

    print(f"[bench] webhook burst: {args.webhooks:,} signed SERP webhooks, 64 connections ...", flush=True)
    server = _Server("webhooks", [sys.executable, "-m", "stock_service"], _service_env(ctx["database_url"], ""),
                     ctx["logdir"])
    ctx["servers"].append(server)
    try:
        parts = urlsplit(server.url)
        spec = {"index": 0, "host": parts.hostname, "port": parts.port, "total": args.webhooks, "connections": 64,
                "secret": LOCAL_SERP_WEBHOOK_SECRET, "tag": ctx["tag"], "products": max(1, args.webhooks // 5)}
        [answer] = _run_generators("webhook", [spec], timeout=600)
    finally:
        server.stop()
        ctx["servers"].remove(server)
    with ctx["engine"].connect() as conn:
        stored = conn.exec_driver_sql("SELECT count(*) FROM webhook_events WHERE source = 'serp'").scalar()
    time.sleep(COMMIT_LAG.total_seconds() + 0.5)
    with build_sensor_context(resources={"catalog_db": CatalogDatabase(database_url=ctx["database_url"])},
                              repository_def=defs.get_repository_def()) as context:
        tick = supplier_events_sensor.evaluate_tick(context)
    runs = len(tick.run_requests or [])
    latency = _percentiles(answer["from_send"])
    result = {"sent": answer["sent"], "accepted_per_second": round(answer["statuses"].get(202, 0) / answer["elapsed"], 1),
              "statuses": answer["statuses"], "answer": latency, "stored": stored, "runs_requested_next_tick": runs}
    print(f"[bench]   {result['accepted_per_second']:,.0f} accepted/s, p50 {latency['p50_ms']} ms, p99 "
          f"{latency['p99_ms']} ms; stored {stored:,} of {answer['sent']:,}; next sensor tick requests {runs} "
          f"run(s)", flush=True)
    return result


# ---------------------------------------------------------------------------------------------

def _table(report: dict) -> list[str]:
    lines = [f"{'variant':<26} {'resv/s':>8} {'req/s':>8} {'p50 ms':>7} {'p99 ms':>7}  {'oversell':>8}  "
             f"{'race 201/db':>11}  {'record':>6}  timed statuses"]
    for name, label in RESERVATION_VARIANTS.items():
        r = report["variants"].get(name)
        if not r:
            continue
        if "error" in r:
            lines.append(f"{label:<26} failed: {r['error'][:80]}")
            continue
        check = r["oversell_check"]
        recorded = r["timed_check"].get("acknowledged_recorded")
        ledger = ("ok" if recorded else "DIFF") if name in ("seeds", "rowlock") else (
            "ok" if recorded and check.get("ledger_matches_levels") and r["timed_check"].get("ledger_matches_levels")
            else "DIFF")
        lines.append(f"{label:<26} {r['reservations_per_second']:>8,.0f} {r['requests_per_second']:>8,.0f} "
                     f"{r['p50_ms']:>7.2f} {r['p99_ms']:>7.2f}  {r['oversell']:>8}  "
                     f"{check['won_201']:>5}/{check['reserved']:<5}  {ledger:>6}  {r['timed_statuses']}")
    ceiling = report.get("redis_ceiling") or {}
    for label, title in (("check_and_decrement", "redis-bench check+decr"),
                         ("service_reserve_script", "redis-bench service script")):
        c = ceiling.get(label)
        if c and "requests_per_second" in c:
            lines.append(f"{title:<26} {c['requests_per_second']:>8,.0f} {'':>8} "
                         f"{c['p50_ms']:>7.2f} {c['p99_ms']:>7.2f}  (EVAL calls/s, the Redis ceiling)")
    if ceiling.get("available") is False:
        lines.append("redis-benchmark            not installed")
    push = report.get("nextengine")
    if push and "error" not in push:
        lines.append(f"{'Next Engine pushes':<26} {push['achieved_rate']:>8,.0f} {'':>8} "
                     f"{push['acknowledge']['p50_ms']:>7.2f} {push['acknowledge']['p99_ms']:>7.2f}  "
                     f"Processed {push['processed']}, logged {push['logged_outcomes']}")
    return lines


def _goals(report: dict) -> dict:
    variants = report["variants"]
    redis = variants.get("redis")
    if not redis or "error" in redis:
        return {}
    goals = {
        "reservations_per_second_per_process>=6000": redis["reservations_per_second"] >= 6000,
        "p99_ms<=20": redis["p99_ms"] <= 20,
        "zero_oversell_everywhere": all(v.get("oversell", 1) == 0 for v in variants.values() if "error" not in v),
    }
    rowlock = variants.get("rowlock")
    if rowlock and "error" not in rowlock and rowlock["reservations_per_second"]:
        ratio = redis["reservations_per_second"] / rowlock["reservations_per_second"]
        goals["times_row_lock"] = round(ratio, 2)
        goals["times_row_lock>=3"] = ratio >= 3
    two = variants.get("redis-2w")
    if two and "error" not in two:
        goals["per_process_with_2_workers"] = round(two["reservations_per_second"] / 2, 1)
    return goals


def run(args: argparse.Namespace) -> int:
    from sqlalchemy import create_engine

    from commerce_core.db.migrate import upgrade

    variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    unknown = sorted(set(variants) - set(ALL_VARIANTS))
    if unknown:
        print(f"[bench] unknown variants {unknown}; choose from {', '.join(ALL_VARIANTS)}", flush=True)
        return 2
    tag = uuid.uuid4().hex[:10]
    schema = f"bench_{tag}"
    admin = create_engine(args.postgres_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
    database_url = f"{args.postgres_url}?options=-csearch_path%3D{schema}"
    engine = create_engine(database_url, pool_size=2)
    logdir = Path(tempfile.mkdtemp(prefix="stock-bench-"))
    ctx = {"tag": tag, "engine": engine, "database_url": database_url, "pg": _pg_params(args.postgres_url, schema),
           "logdir": logdir, "servers": []}
    report: dict = {"started_at": datetime.now(timezone.utc).isoformat(), "seconds": args.seconds,
                    "warmup": args.warmup, "connections": args.connections, "load_processes": args.load_processes,
                    "client": args.client, "cpus": os.cpu_count(), "variants": {}}
    generator = _generator(args)
    report["generator"] = generator
    print(f"[bench] schema {schema}, run tag {tag}, {os.cpu_count()} CPUs, {args.connections} connections; timed "
          f"part: {generator} ({args.load_processes} {'thread' if generator == 'wrk' else 'process'}(es)), oversell "
          f"race: {'httpx' if generator == 'httpx' else 'raw'} asyncio", flush=True)
    try:
        upgrade(database_url)
        with engine.begin() as conn:
            conn.exec_driver_sql("CREATE TABLE peer_stock (sku text PRIMARY KEY, stock integer NOT NULL, "
                                 "version integer NOT NULL DEFAULT 0)")
            conn.exec_driver_sql("CREATE TABLE peer_reservations (order_id text PRIMARY KEY, sku text NOT NULL, "
                                 "user_id text NOT NULL, quantity integer NOT NULL, "
                                 "created_at timestamptz NOT NULL DEFAULT now())")
        for name in variants:
            if name in RESERVATION_VARIANTS:
                try:
                    report["variants"][name] = _reservation_variant(name, args, ctx)
                except Exception as error:
                    print(f"[bench]   {name} failed: {error!r}", flush=True)
                    report["variants"][name] = {"label": RESERVATION_VARIANTS[name], "error": repr(error)}
            elif name == "ceiling":
                report["redis_ceiling"] = _redis_benchmark(args, tag)
            elif name == "webhooks":
                try:
                    report["webhooks"] = _webhooks_variant(args, ctx)
                except Exception as error:
                    print(f"[bench]   webhooks failed: {error!r}", flush=True)
                    report["webhooks"] = {"error": repr(error)}
            elif name == "nextengine":
                try:
                    report["nextengine"] = _nextengine_variant(args, ctx)
                except Exception as error:
                    print(f"[bench]   nextengine failed: {error!r}", flush=True)
                    report["nextengine"] = {"error": repr(error)}
        report["goals"] = _goals(report)
    finally:
        for server in list(ctx["servers"]):
            server.stop()
        engine.dispose()
        try:
            report["redis_keys_removed"] = _redis_cleanup(args.redis_url, tag)
        except Exception as error:  # Redis down: nothing to remove
            print(f"[bench] Redis cleanup failed: {error!r}", flush=True)
        shutil.rmtree(logdir, ignore_errors=True)
        if not args.keep_schema:
            with admin.connect() as conn:
                conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
        admin.dispose()
    print("[bench]", flush=True)
    for line in _table(report):
        print(f"[bench] {line}", flush=True)
    for goal, value in report.get("goals", {}).items():
        print(f"[bench] goal {goal}: {value}", flush=True)
    write_results("stock", report)
    return 0
