"""Next Engine's rotating tokens against the simulator, with the token store on SQLite and PostgreSQL."""

from __future__ import annotations

import multiprocessing
import threading
import time

import httpx
import pytest
from sqlalchemy import select

from commerce_core.connectors import token_store
from commerce_core.connectors.nextengine import PLATFORM, FairLock, NextEngineClient, NextEngineError
from commerce_core.connectors.token_store import TokenPair, TokensBusy
from commerce_core.db.schema import oauth_tokens
from commerce_core.db.engine import get_engine
from commerce_core.http.resilience import ResilientHttpClient, RetrySettings
from simulators.asgi_server import ServedApp
from simulators.nextengine import NextEngineData, create_app

GOODS = "/api_v1_master_goods/search"
SHOP = "test-shop"


@pytest.fixture
def nextengine(database_url):
    served = ServedApp(create_app(NextEngineData(products=230, orders=40, seed=5),
                                  access_token="a0", refresh_token="r0")).start()
    with get_engine(database_url).begin() as conn:
        token_store.authorise(conn, PLATFORM, SHOP, TokenPair("a0", "r0"))
    clients: list[NextEngineClient] = []

    def client(lock: threading.Lock | None = None, **options) -> NextEngineClient:
        http = ResilientHttpClient(served.url, retry=RetrySettings(max_attempts=2, backoff_seconds=0.01))
        clients.append(NextEngineClient(http, get_engine(database_url), SHOP, lock=lock, **options))
        return clients[-1]

    yield served, client
    for made in clients:
        made.close()
    served.stop()


def _stored(database_url: str) -> TokenPair:
    with get_engine(database_url).connect() as conn:
        return token_store.load(conn, PLATFORM, SHOP)


def test_every_call_rotates_the_tokens_and_the_new_pair_is_stored(database_url, nextengine):
    served, client = nextengine
    ne = client()
    ne.call(GOODS, {"limit": "5"})
    first = _stored(database_url)
    assert first.access_token != "a0" and first.access_expires_at is not None
    ne.call(GOODS, {"limit": "5"})
    assert _stored(database_url).access_token != first.access_token
    assert httpx.get(f"{served.url}/_sim/stats").json()["token_rotations"] == 2


def test_paging_returns_every_record_once(database_url, nextengine):
    _, client = nextengine
    codes = [record["goods_id"] for page in client().search(GOODS, limit=100) for record in page]
    assert len(codes) == len(set(codes)) == 230


def test_an_expired_access_token_still_works_through_the_refresh_token(database_url, nextengine):
    served, client = nextengine
    ne = client()
    ne.call(GOODS, {"limit": "1"})
    served.app.state.clock.advance(26 * 3600)  # access lives a day, refresh three
    assert ne.call(GOODS, {"limit": "1"})["result"] == "success"
    served.app.state.clock.advance(4 * 24 * 3600)
    with pytest.raises(NextEngineError) as error:
        ne.call(GOODS, {"limit": "1"})
    assert error.value.code.startswith("002")


def test_a_crash_after_the_answer_loses_no_token(database_url, nextengine):
    _, client = nextengine
    first = client()
    first.call(GOODS, {"limit": "1"})  # the new pair is stored before the caller sees the data ...
    del first  # ... so a process that dies now leaves a usable pair behind
    assert client().call(GOODS, {"limit": "1"})["result"] == "success"


def test_concurrent_calls_from_two_processes_never_store_an_old_pair(database_url, nextengine):
    _, client = nextengine
    # Each client has its own lock, as two processes would: their calls really race.
    workers = [client(threading.Lock()), client(threading.Lock())]
    errors: list[Exception] = []

    def work(ne: NextEngineClient) -> None:
        for _ in range(15):
            try:
                ne.call(GOODS, {"limit": "1"})
            except NextEngineError as error:
                errors.append(error)

    threads = [threading.Thread(target=work, args=(ne,)) for ne in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    # The store holds the pair the platform considers current: the next call succeeds with it.
    assert client().call(GOODS, {"limit": "1"})["result"] == "success"


def _calls_in_a_process(base_url: str, database_url: str, start, results, threads: int, calls: int) -> None:
    """A process like a Dagster run of the shop: `threads` threads, each making `calls` calls."""
    engine = get_engine(database_url)
    errors: list[str] = []

    def work() -> None:
        http = ResilientHttpClient(base_url, retry=RetrySettings(max_attempts=2, backoff_seconds=0.01))
        ne = NextEngineClient(http, engine, SHOP)  # the process's own lock for the shop
        try:
            for _ in range(calls):
                try:
                    ne.call(GOODS, {"limit": "1"})
                except Exception as error:  # noqa: BLE001 - reported to the test
                    errors.append(repr(error))
        finally:
            ne.close()

    try:
        start.wait(timeout=300)  # every process calls at once
        workers = [threading.Thread(target=work) for _ in range(threads)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
    except Exception as error:  # noqa: BLE001
        errors.append(repr(error))
    results.put(errors)
    engine.dispose()


def test_many_callers_in_several_processes_all_succeed_and_use_each_pair_once(database_url, nextengine):
    served, _ = nextengine
    processes, threads, calls = 3, 3, 6
    spawn = multiprocessing.get_context("spawn")
    start, results = spawn.Barrier(processes), spawn.Queue()
    started = [spawn.Process(target=_calls_in_a_process,
                             args=(served.url, database_url, start, results, threads, calls)) for _ in range(processes)]
    for process in started:
        process.start()
    errors = [error for _ in started for error in results.get(timeout=600)]
    for process in started:
        process.join()
    assert errors == []
    total = processes * threads * calls
    stats = httpx.get(f"{served.url}/_sim/stats").json()
    # No call was refused: no pair was sent twice, none after it was retired.
    assert (stats["successes"], stats["rejected"], stats["token_rotations"]) == (total, 0, total)
    current = httpx.get(f"{served.url}/_sim/tokens").json()
    stored = _stored(database_url)
    assert (stored.access_token, stored.refresh_token) == (current["access_token"], current["refresh_token"])
    with get_engine(database_url).connect() as conn:
        assert conn.execute(select(oauth_tokens.c.rotations)).scalar_one() == total  # every pair stored


def test_a_caller_waits_for_its_turn_and_gives_up_naming_the_shop(database_url, nextengine):
    served, client = nextengine
    impatient = client(threading.Lock(), lock_timeout=0.5)
    # Another process's call holds the shop's tokens (and never finishes).
    with token_store.turn(get_engine(database_url), PLATFORM, SHOP, timeout=5):
        with pytest.raises(TokensBusy, match=f"shop {SHOP}"):
            impatient.call(GOODS, {"limit": "1"})
    assert httpx.get(f"{served.url}/_sim/stats").json()["calls"][GOODS] == 0  # nothing was sent
    assert impatient.call(GOODS, {"limit": "1"})["result"] == "success"  # its turn, once the other is done


def test_a_turn_that_stores_nothing_leaves_the_pair_as_it_was(database_url, nextengine):
    _, client = nextengine
    with pytest.raises(RuntimeError, match="lost connection"):
        with token_store.turn(get_engine(database_url), PLATFORM, SHOP, timeout=5) as turn:
            assert turn.used.access_token == "a0"
            raise RuntimeError("lost connection")
    assert _stored(database_url).access_token == "a0"
    assert client().call(GOODS, {"limit": "1"})["result"] == "success"


def test_the_process_lock_serves_waiting_callers_in_arrival_order():
    lock, served = FairLock(), []
    lock.acquire()

    def take(n: int) -> None:
        with lock:
            served.append(n)

    waiting = []
    for n in range(5):
        waiting.append(threading.Thread(target=take, args=(n,)))
        waiting[-1].start()
        deadline = time.monotonic() + 60
        while len(lock._waiting) < n + 1:  # queued before the next one starts
            assert time.monotonic() < deadline, "a thread never queued for the lock"
            time.sleep(0.001)
    lock.release()
    # The one that released cannot jump the queue.
    assert lock.acquire(timeout=60)
    served.append("again")
    lock.release()
    for thread in waiting:
        thread.join()
    assert served == [0, 1, 2, 3, 4, "again"]
