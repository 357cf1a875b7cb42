"""The Next Engine simulator's stock pushes: signed as the stock service verifies them (the vendor's example
vector included), empty stock sent as `Stock=`, retried with the same ts and .sig on a system-side failure,
never retried on -2; the admin routes that send and list them."""

from __future__ import annotations

import asyncio
import hashlib
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from commerce_core.stock.nextengine_push import CONTENT_TYPE, parse_ts, response_xml, verify_push
from simulators.asgi_server import ServedApp
from simulators.nextengine import NextEngineData, create_app
from simulators.nextengine_push import PushTarget, signed_params

STORE, KEY = "sim-store", "push-key-1"


class Edge:
    """A stand-in for our edge that keeps every raw query string and answers as `plan` says, one step per
    request: 0 / -2 / -3 = a 200 XML answer with that Processed, an HTTP status >= 100 = that status with no
    body, ("slow", seconds) = Processed 0 after the simulator stopped waiting; Processed 0 once used up."""

    def __init__(self, plan: list | None = None):
        self.plan = list(plan or [])
        self.queries: list[bytes] = []
        self.lock = threading.Lock()

        async def receive(request: Request) -> Response:
            with self.lock:
                self.queries.append(request.scope["query_string"])
                step = self.plan.pop(0) if self.plan else 0
            if isinstance(step, tuple):
                await asyncio.sleep(step[1])
                step = 0
            if step >= 100:
                return Response(b"", step)
            return Response(response_xml([], step), headers={"Content-Type": CONTENT_TYPE})

        self.served = ServedApp(Starlette(routes=[Route("/ne/stock", receive, methods=["GET"])])).start()
        self.url = f"{self.served.url}/ne/stock"


@contextmanager
def simulator(plan: list | None = None, *, url: str | None = None,
              timeout: float = 5.0) -> Iterator[tuple[httpx.Client, NextEngineData, Edge]]:
    edge = Edge(plan)
    data = NextEngineData(products=20, orders=0, seed=3)
    target = PushTarget(url or edge.url, STORE, KEY, timeout_seconds=timeout, retry_delay_seconds=0.05)
    try:
        with ServedApp(create_app(data, access_token="a", refresh_token="r", push_target=target)) as srv, \
                httpx.Client(base_url=srv.url, timeout=30) as client:
            yield client, data, edge
    finally:
        edge.served.stop()


def _verified(query: bytes):
    """The stock service's own verifier (raises PushRejected on a bad signature, ts or parameter)."""
    return verify_push(query, {STORE: KEY}, datetime.now(timezone.utc))


def test_the_vendor_example_vector():
    target = PushTarget("http://unused", "samplestore", "aaa")
    params = signed_params(target, "test-aaa", 10, "201801150830")
    assert params[".sig"] == hashlib.md5(b"StoreAccount=samplestore&Code=test-aaa&Stock=10&ts=201801150830aaa"
                                         ).hexdigest()
    assert list(params) == ["StoreAccount", "Code", "Stock", "ts", ".sig"]
    assert "aaa" not in repr(target)  # the key stays out of logs


def test_pushes_are_accepted_by_the_stock_service_verifier_and_empty_stock_is_sent_empty():
    code = "湯呑み&<5>+ 1"  # needs percent-encoding: '&', '+', a space and Japanese text
    with simulator() as (client, _, edge):
        before = datetime.now(timezone.utc).replace(microsecond=0)
        pushes = client.post("/_sim/push-stock", json={"items": [{"code": "NE-0000001", "stock": 7},
                                                                 {"code": code, "stock": None},
                                                                 {"code": "NE-0000002", "stock": 0}]}).json()["pushes"]
        log = client.get("/_sim/pushes").json()
    assert [d["delivered"] for d in pushes] == [True, True, True] and log["pushes"] == pushes
    assert (log["sent"], log["attempts"], log["delivered"]) == (3, 3, 3)
    verified = [_verified(query) for query in edge.queries]
    assert [(p.store_account, p.code, p.stock) for p in verified] == [(STORE, "NE-0000001", 7), (STORE, code, None),
                                                                      (STORE, "NE-0000002", 0)]
    assert edge.queries[1].split(b"&")[2] == b"Stock="  # unlimited: empty, not 0
    assert [q.split(b"&")[0].split(b"=")[0] for q in edge.queries] == [b"StoreAccount"] * 3
    # ts: now, in Japan time, 14 digits; one ts for the whole call.
    assert {p.ts for p in verified} == {pushes[0]["params"]["ts"]} and len(verified[0].ts) == 14
    assert before <= verified[0].sent_at <= datetime.now(timezone.utc)
    assert [p.signature for p in verified] == [d["params"][".sig"] for d in pushes]


def test_a_given_ts_is_sent_as_is_and_the_simulator_clock_moves_the_default():
    with simulator() as (client, _, edge):
        client.post("/_sim/push-stock", json={"items": [{"code": "A", "stock": 1}], "ts": "202501150830"})
        client.post("/_sim/clock", json={"advance_seconds": 3 * 86400})
        [late] = client.post("/_sim/push-stock", json={"items": [{"code": "A", "stock": 1}]}).json()["pushes"]
    assert edge.queries[0].split(b"&")[3] == b"ts=202501150830"
    assert parse_ts(late["params"]["ts"]) > datetime.now(timezone.utc) + timedelta(days=2)


@pytest.mark.parametrize("plan, statuses, processed, delivered", [
    ([503, -3], [503, 200, 200], [None, -3, 0], True),
    ([("slow", 1.0)], ["timeout", 200], [None, 0], True),
    ([-3, -3, -3, -3], [200, 200, 200], [-3, -3, -3], False),  # three attempts, then Next Engine gives up
    ([-2], [200], [-2], False),  # a client error is never repeated
])
def test_system_failures_are_retried_with_the_same_ts_and_sig_and_client_errors_are_not(plan, statuses, processed,
                                                                                         delivered):
    with simulator(plan, timeout=0.5) as (client, _, edge):
        [push] = client.post("/_sim/push-stock", json={"items": [{"code": "NE-0000004", "stock": 3}]}).json()["pushes"]
    assert [a["status"] for a in push["attempts"]] == statuses
    assert [a["processed"] for a in push["attempts"]] == processed
    assert (push["processed"], push["delivered"]) == (processed[-1], delivered)
    assert len(edge.queries) == len(statuses) and len(set(edge.queries)) == 1  # the same ts and .sig every time
    assert _verified(edge.queries[0]).signature == push["params"][".sig"]


def test_an_unreachable_edge_is_tried_three_times():
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        closed = sock.getsockname()[1]
    with simulator(url=f"http://127.0.0.1:{closed}/ne/stock") as (client, _, _):
        [push] = client.post("/_sim/push-stock", json={"items": [{"code": "X", "stock": 1}]}).json()["pushes"]
    assert [a["status"] for a in push["attempts"]] == ["unreachable"] * 3 and not push["delivered"]


def test_a_goods_change_pushes_the_new_free_stock_of_the_changed_goods():
    with simulator() as (client, data, edge):
        answer = client.post("/_sim/change", json={"count": 2}).json()
    pushed = {p.code: p.stock for p in map(_verified, edge.queries)}
    assert sorted(pushed) == sorted(answer["changed"]) and len(answer["pushes"]) == 2
    assert pushed == {gid: int(data.stock(data.index_of(gid))["stock_free_quantity"]) for gid in answer["changed"]}


def test_bad_items_are_refused_and_without_a_target_nothing_is_sent():
    with simulator() as (client, _, edge):
        for body in ({"items": [{"code": "A"}]}, {"items": [{"code": "", "stock": 1}]},
                     {"items": [{"code": "A", "stock": -1}]}, {"items": [{"code": "A", "stock": True}]},
                     {"items": "A"}, {"items": [], "ts": 202501150830}):
            assert client.post("/_sim/push-stock", json=body).status_code == 400, body
        assert edge.queries == []
    data = NextEngineData(products=5, orders=0)
    with ServedApp(create_app(data, access_token="a", refresh_token="r")) as srv:
        assert httpx.post(f"{srv.url}/_sim/push-stock", json={"items": []}).status_code == 409
        assert httpx.post(f"{srv.url}/_sim/change", json={"count": 1}).json().keys() == {"changed"}
        assert httpx.get(f"{srv.url}/_sim/pushes").json()["sent"] == 0


def test_the_cli_signs_with_the_key_from_the_environment_and_never_prints_it():
    repo = Path(__file__).resolve().parents[2]
    secret = "ne-secret-key-9c1d"
    edge = Edge()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "simulators.nextengine", "--port", str(port), "--products", "3", "--orders", "0",
         "--push-url", edge.url, "--push-store-account", STORE],
        cwd=repo, env={**os.environ, "NEXTENGINE_AUTH_KEY": secret}, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                answer = httpx.post(f"http://127.0.0.1:{port}/_sim/push-stock",
                                    json={"items": [{"code": "NE-0000001", "stock": 2}]}, timeout=10)
                break
            except httpx.TransportError:
                assert proc.poll() is None and time.monotonic() < deadline, "CLI simulator did not start"
                time.sleep(0.05)
        assert answer.json()["pushes"][0]["delivered"]
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=10)
        edge.served.stop()
    push = verify_push(edge.queries[0], {STORE: secret}, datetime.now(timezone.utc))
    assert (push.code, push.stock) == ("NE-0000001", 2)
    assert f"stock pushes to {edge.url} as {STORE}" in out and secret not in out
