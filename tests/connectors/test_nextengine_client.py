"""Next Engine's rotating tokens against the simulator, with the token store on SQLite and PostgreSQL."""

from __future__ import annotations

import threading

import httpx
import pytest

from commerce_core.connectors import token_store
from commerce_core.connectors.nextengine import PLATFORM, NextEngineClient, NextEngineError
from commerce_core.connectors.token_store import TokenPair
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

    def client(lock: threading.Lock | None = None) -> NextEngineClient:
        http = ResilientHttpClient(served.url, retry=RetrySettings(max_attempts=2, backoff_seconds=0.01))
        clients.append(NextEngineClient(http, get_engine(database_url), SHOP, lock=lock))
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
