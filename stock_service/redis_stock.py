"""The Redis fast path: one atomic script per reservation (idempotency, rate limit, stock check, decrement).

Redis answers the cheap questions without the database — a retried order, a user
ordering too fast, a sold-out SKU — and holds back the stock it lets through.
The database still decides (group commit) and is the record: a reservation the
database refuses, or that fails to commit, is given back here. Redis keeps
nothing on disk, so a missing SKU key means "not loaded", never "zero": it is
loaded from the database on first use.
"""

from __future__ import annotations

from dataclasses import dataclass

import orjson
import redis.asyncio as aioredis

from commerce_core.stock.ledger import Answer
from commerce_core.stock.redis_keys import UNLIMITED, answer_key, available_key, user_orders_key, view_key

ANSWER_TTL_SECONDS = 24 * 3600
PENDING_TTL_MS = 30_000  # a request that died mid-way stops blocking its order id after this
ORDER_INTERVAL_MS = 1000

# KEYS: available, answer, user's order slot. ARGV: quantity, order interval ms, pending ms.
_RESERVE = """
local answer = redis.call('GET', KEYS[2])
if answer then return {'ANSWER', answer} end
local available = redis.call('GET', KEYS[1])
if not available then return {'MISSING', ''} end
if not redis.call('SET', KEYS[3], '1', 'NX', 'PX', ARGV[2]) then
  return {'RATE', tostring(redis.call('PTTL', KEYS[3]))}
end
available = tonumber(available)
local quantity = tonumber(ARGV[1])
if available ~= -1 then
  if available < quantity then return {'SHORT', tostring(available)} end
  redis.call('DECRBY', KEYS[1], quantity)
end
redis.call('SET', KEYS[2], 'PENDING', 'PX', ARGV[3])
return {'OK', tostring(available)}
"""

# KEYS: available. ARGV: value. Sets only a missing key: a concurrent load or decrement wins.
_LOAD = "return redis.call('SET', KEYS[1], ARGV[1], 'NX') and 1 or 0"

# KEYS: available. ARGV: delta. Moves a loaded, limited counter; unlimited and missing stay as they are.
_ADD = """
local available = redis.call('GET', KEYS[1])
if not available or tonumber(available) == -1 then return 0 end
redis.call('INCRBY', KEYS[1], ARGV[1])
return 1
"""


@dataclass(frozen=True)
class FastOutcome:
    kind: str  # ANSWER | MISSING | RATE | SHORT | OK | PENDING
    value: str


class RedisStock:
    def __init__(self, url: str):
        self.client = aioredis.from_url(url, decode_responses=True, max_connections=256)
        self._reserve = self.client.register_script(_RESERVE)
        self._load = self.client.register_script(_LOAD)
        self._add = self.client.register_script(_ADD)

    async def close(self) -> None:
        await self.client.aclose()

    async def try_reserve(self, sku: str, order_id: str, user_id: str, quantity: int) -> FastOutcome:
        kind, value = await self._reserve(
            keys=[available_key(sku), answer_key("reserve", order_id), user_orders_key(user_id)],
            args=[quantity, ORDER_INTERVAL_MS, PENDING_TTL_MS],
        )
        if kind == "ANSWER" and value == "PENDING":
            return FastOutcome("PENDING", "")
        return FastOutcome(kind, value)

    async def load(self, sku: str, available: int | None) -> None:
        await self._load(keys=[available_key(sku)], args=[UNLIMITED if available is None else available])

    async def give_back(self, sku: str, quantity: int) -> None:
        await self._add(keys=[available_key(sku)], args=[quantity])

    async def set_available(self, sku: str, available: int | None) -> None:
        await self.client.set(available_key(sku), UNLIMITED if available is None else available)

    async def remember(self, operation: str, order_id: str, answer: Answer) -> None:
        await self.client.set(answer_key(operation, order_id),
                              orjson.dumps({"status": answer.status_code, "body": answer.body}).decode(),
                              ex=ANSWER_TTL_SECONDS)

    async def settled(self, operation: str, order_id: str, answer: Answer | None, sku: str) -> None:
        """After the database decided: remember the answer (or forget the pending mark) and drop the
        SKU's cached view, in one round trip."""
        async with self.client.pipeline(transaction=False) as pipe:
            if answer is None:
                pipe.delete(answer_key(operation, order_id))
            else:
                pipe.set(answer_key(operation, order_id),
                         orjson.dumps({"status": answer.status_code, "body": answer.body}).decode(),
                         ex=ANSWER_TTL_SECONDS)
            pipe.delete(view_key(sku))
            await pipe.execute()

    async def forget(self, operation: str, order_id: str) -> None:
        await self.client.delete(answer_key(operation, order_id))

    async def invalidate_view(self, sku: str) -> None:
        await self.client.delete(view_key(sku))

    async def cached_view(self, sku: str) -> dict | None:
        raw = await self.client.get(view_key(sku))
        return orjson.loads(raw) if raw else None

    async def cache_view(self, sku: str, body: dict, ttl_seconds: float) -> None:
        await self.client.set(view_key(sku), orjson.dumps(body).decode(), px=int(ttl_seconds * 1000))

    async def available(self, sku: str) -> int | None | str:
        """The counter: an int, None for unlimited, or "missing" when not loaded."""
        raw = await self.client.get(available_key(sku))
        if raw is None:
            return "missing"
        return None if int(raw) == UNLIMITED else int(raw)


def stored_answer(raw: str) -> Answer:
    data = orjson.loads(raw)
    return Answer(data["status"], data["body"])
