"""Never oversell: hundreds of concurrent reservations on one SKU against two service processes."""

from __future__ import annotations

import os
import signal
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
import redis
from sqlalchemy import select

from commerce_core.db.engine import get_engine
from commerce_core.db.schema import stock_levels, stock_reservations
from commerce_core.stock.ledger import ledger_totals
from commerce_core.stock.reconciliation import reconcile
from commerce_core.stock.redis_keys import available_key
from tests.stock.helpers import REDIS_URL, service_processes, unique

STOCK = 100
ATTEMPTS = 300


def _env(database_url: str, mode: str) -> dict[str, str]:
    return {"HUB_DATABASE_URL": database_url, "HUB_REDIS_URL": REDIS_URL if mode == "redis" else "",
            "HUB_ENV": "local"}


def _hammer(urls: list[str], sku: str, attempts: int, first: int = 0) -> list[int]:
    """`attempts` concurrent one-unit orders (order ids from `first` on), spread over the processes."""
    clients = [httpx.Client(base_url=url, timeout=30) for url in urls]

    def attempt(n: int) -> int:
        try:
            return clients[n % len(clients)].post(
                f"/stock/{sku}/reservations", json={"orderId": f"{sku}-{n}", "userId": f"user-{n}", "quantity": 1}
            ).status_code
        except httpx.HTTPError:
            return -1  # the process we talked to died: that request was never acknowledged

    with ThreadPoolExecutor(max_workers=64) as pool:
        codes = list(pool.map(attempt, range(first, first + attempts)))
    for client in clients:
        client.close()
    return codes


def test_exactly_the_stock_is_sold_across_two_processes(postgres_schema, mode):
    from commerce_core.db.migrate import upgrade

    upgrade(postgres_schema)
    sku = unique("HOT")
    with service_processes(2, _env(postgres_schema, mode)) as (urls, _):
        httpx.put(f"{urls[0]}/stock", json={"items": [{"sku": sku, "quantity": STOCK}]},
                  headers={"Idempotency-Key": unique("k")}).raise_for_status()
        codes = _hammer(urls, sku, ATTEMPTS)
    answers = Counter(codes)  # a failure shows every status that came back (-1: no answer)
    assert (answers[201], answers[409]) == (STOCK, ATTEMPTS - STOCK), answers
    with get_engine(postgres_schema).connect() as conn:
        level = conn.execute(select(stock_levels).where(stock_levels.c.sku == sku)).one()
        open_orders = conn.execute(select(stock_reservations.c.order_id).where(stock_reservations.c.sku == sku)
                                   ).scalars().all()
        assert (level.on_hand, level.reserved) == (STOCK, STOCK)
        assert len(open_orders) == STOCK
        assert ledger_totals(conn, [sku]) == {sku: (STOCK, STOCK)}


@pytest.mark.parametrize("mode", ["redis"])
def test_a_killed_process_and_an_empty_redis_leave_the_ledger_right(postgres_schema, mode):
    """SIGKILL one of two processes mid-load and wipe the SKU from Redis: every acknowledged reservation
    is in the ledger, nothing refused is, and after reconciliation Redis says what the ledger says."""
    from commerce_core.db.migrate import upgrade

    upgrade(postgres_schema)
    sku = unique("CRASH")
    client = redis.Redis.from_url(REDIS_URL)
    with service_processes(2, _env(postgres_schema, mode)) as (urls, processes):
        httpx.put(f"{urls[0]}/stock", json={"items": [{"sku": sku, "quantity": STOCK}]},
                  headers={"Idempotency-Key": unique("k")}).raise_for_status()
        killer = threading.Timer(0.15, lambda: os.kill(processes[1].pid, signal.SIGKILL))
        killer.start()
        codes = _hammer(urls, sku, ATTEMPTS)
        killer.join()
        client.delete(available_key(sku))  # Redis restarted empty (it keeps nothing on disk)
        assert -1 in codes, "the kill must land while requests are in flight"
        acknowledged = {f"{sku}-{n}" for n, code in enumerate(codes) if code == 201}
        refused = {f"{sku}-{n}" for n, code in enumerate(codes) if code == 409}
        after = _hammer(urls[:1], sku, 20, first=ATTEMPTS)  # the survivor reloads the SKU from the database
    engine = get_engine(postgres_schema)
    with engine.connect() as conn:
        recorded = set(conn.execute(select(stock_reservations.c.order_id).where(stock_reservations.c.sku == sku)
                                    ).scalars())
        level = conn.execute(select(stock_levels).where(stock_levels.c.sku == sku)).one()
    assert acknowledged <= recorded
    assert not (refused & recorded)
    assert level.reserved == len(recorded) <= STOCK
    # Reloaded from the ledger, not trusted blank: exactly what was left is sold, then 409s.
    assert after.count(201) == min(20, STOCK - len(recorded - {f"{sku}-{n}" for n in range(ATTEMPTS, ATTEMPTS + 20)}))
    result = reconcile(engine, client)
    assert result.ledger_mismatches == []
    assert int(client.get(available_key(sku))) == level.on_hand - level.reserved
    client.delete(available_key(sku))
