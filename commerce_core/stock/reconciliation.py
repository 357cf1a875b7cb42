"""Stock reconciliation: the database ledger is the truth; Redis and the projection are checked against it.

1. stock_levels must equal what the ledger adds up to, per SKU (a difference is
   a bug or manual tampering: reported, never silently "fixed").
2. Redis's available counter must equal the database's. A reservation in flight
   has already taken its stock in Redis but not yet committed, so a SKU is only
   repaired when two reads a moment apart find both sides unchanged and still
   different. A counter Redis
   lost (restart: it keeps nothing on disk) is simply loaded again.
3. Holds past their time are released (the service does this too; this is the
   safety net when no service process runs).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import redis as redis_sync
from sqlalchemy import Engine, select

from commerce_core.db.cursors import utcnow
from commerce_core.db.schema import stock_levels
from commerce_core.stock import ledger
from commerce_core.stock.redis_keys import UNLIMITED, available_key

CONFIRM_DELAY_SECONDS = 0.2


@dataclass
class ReconciliationResult:
    skus: int = 0
    ledger_mismatches: list[dict] = field(default_factory=list)
    redis_repaired: list[dict] = field(default_factory=list)
    redis_loaded: int = 0
    expired_released: int = 0

    @property
    def differences(self) -> int:
        return len(self.ledger_mismatches) + len(self.redis_repaired)


def _database_available(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        rows = conn.execute(select(stock_levels.c.sku, stock_levels.c.on_hand, stock_levels.c.reserved,
                                   stock_levels.c.unlimited))
        return {sku: UNLIMITED if unlimited else on_hand - reserved for sku, on_hand, reserved, unlimited in rows}


def _redis_available(client: redis_sync.Redis, skus: list[str]) -> dict[str, int | None]:
    values: dict[str, int | None] = {}
    for start in range(0, len(skus), 1000):
        part = skus[start : start + 1000]
        for sku, raw in zip(part, client.mget([available_key(sku) for sku in part])):
            values[sku] = None if raw is None else int(raw)
    return values


def release_expired(engine: Engine, client: redis_sync.Redis | None) -> int:
    released = 0
    with engine.connect() as conn:
        orders = ledger.expired_orders(conn, utcnow(), limit=10_000)
    for order_id in orders:
        with engine.begin() as conn:
            settlement = ledger.settle(conn, order_id, "expire", utcnow(), source="reconciliation")
        if settlement.moved:
            released += 1
            if client is not None:
                client.eval("local v = redis.call('GET', KEYS[1]) if v and tonumber(v) ~= -1 then "
                            "redis.call('INCRBY', KEYS[1], ARGV[1]) end return 0", 1,
                            available_key(settlement.sku), settlement.quantity)
    return released


def reconcile(engine: Engine, client: redis_sync.Redis | None) -> ReconciliationResult:
    result = ReconciliationResult()
    result.expired_released = release_expired(engine, client)
    # One snapshot for both reads: a reservation committing between them is not a mismatch.
    snapshot = {"isolation_level": "REPEATABLE READ"} if engine.dialect.name == "postgresql" else {}
    with engine.connect().execution_options(**snapshot) as conn, conn.begin():
        totals = ledger.ledger_totals(conn)
        levels = {row.sku: row for row in conn.execute(select(stock_levels))}
    result.skus = len(levels)
    for sku, level in levels.items():
        on_hand, reserved = totals.get(sku, (0, 0))
        if (on_hand, reserved) != (level.on_hand, level.reserved):
            result.ledger_mismatches.append({"sku": sku, "ledger": {"onHand": on_hand, "reserved": reserved},
                                             "levels": {"onHand": level.on_hand, "reserved": level.reserved}})
    if client is None:
        return result
    first_db, first_redis = _database_available(engine), _redis_available(client, sorted(levels))
    suspects = {sku for sku, value in first_redis.items() if value is not None and value != first_db.get(sku)}
    missing = [sku for sku, value in first_redis.items() if value is None]
    for sku in missing:  # SET NX: a service process that loaded it meanwhile wins
        if client.set(available_key(sku), first_db[sku], nx=True):
            result.redis_loaded += 1
    if suspects:
        time.sleep(CONFIRM_DELAY_SECONDS)
        second_db, second_redis = _database_available(engine), _redis_available(client, sorted(suspects))
        for sku in sorted(suspects):
            # Quiet and still different: neither side moved between the reads (nothing in flight).
            if (second_redis[sku], second_db.get(sku)) == (first_redis[sku], first_db[sku]):
                # Move by the difference (not SET): decrements racing with this repair are kept.
                client.incrby(available_key(sku), second_db[sku] - second_redis[sku])
                result.redis_repaired.append({"sku": sku, "redis": second_redis[sku], "database": second_db[sku]})
    return result
