"""The Redis fast path: an atomic script decides each reservation (idempotency, rate limit, stock check, decrement).

Redis answers the cheap questions without the database — a retried order, a user
ordering too fast, a sold-out SKU — and holds back the stock it lets through.
The database still decides (group commit) and is the record: a reservation the
database refuses, or that fails to commit, is given back here. Redis keeps
nothing on disk, so a missing SKU key means "not loaded", never "zero": it is
loaded from the database on first use.

The reservation path's calls are queued: the new reservations and the decided
ones that the event loop queues in one turn go to Redis as one script call each
(one round trip for both). The reserve script decides the turn's reservations one
after the other, each exactly as it would alone, and nothing runs in between; a
reservation that fails in Redis fails alone (pcall).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import orjson
import redis.asyncio as aioredis
from redis.exceptions import NoScriptError, RedisError

from commerce_core.stock.ledger import Answer
from commerce_core.stock.redis_keys import UNLIMITED, answer_key, available_key, user_orders_key, view_key

ANSWER_TTL_SECONDS = 24 * 3600
PENDING_TTL_MS = 30_000  # a request that died mid-way stops blocking its order id after this
ORDER_INTERVAL_MS = 1000

# KEYS: per reservation its SKU's available counter, its answer, its user's order slot.
# ARGV: order interval ms, pending ms, then per reservation its quantity.
# Returns per reservation a kind (ANSWER, MISSING, RATE, SHORT, OK or ERROR) and a value.
_RESERVE = """
local function reserve(available_key, answer_key, slot_key, quantity)
  local answer = redis.call('GET', answer_key)
  if answer then return 'ANSWER', answer end
  local available = redis.call('GET', available_key)
  if not available then return 'MISSING', '' end
  if not redis.call('SET', slot_key, '1', 'NX', 'PX', ARGV[1]) then
    return 'RATE', tostring(redis.call('PTTL', slot_key))
  end
  available = tonumber(available)
  if available ~= -1 then
    if available < quantity then return 'SHORT', tostring(available) end
    redis.call('DECRBY', available_key, quantity)
  end
  redis.call('SET', answer_key, 'PENDING', 'PX', ARGV[2])
  return 'OK', tostring(available)
end
local out = {}
for i = 1, #KEYS / 3 do
  local ok, kind, value = pcall(reserve, KEYS[3 * i - 2], KEYS[3 * i - 1], KEYS[3 * i], tonumber(ARGV[2 + i]))
  if ok then out[2 * i - 1], out[2 * i] = kind, value
  else out[2 * i - 1], out[2 * i] = 'ERROR', type(kind) == 'table' and tostring(kind.err) or tostring(kind) end
end
return out
"""

# After the database decided. KEYS: per reservation its answer, its SKU's available counter, its SKU's cached
# view. ARGV: answer TTL s, then per reservation the answer to keep ('' = forget the pending mark) and the
# units to give back (into a loaded, limited counter only).
_DECIDED = """
for i = 1, #KEYS / 3 do
  local answer, units = ARGV[2 * i], tonumber(ARGV[2 * i + 1])
  if units > 0 then
    local available = redis.call('GET', KEYS[3 * i - 1])
    if available and tonumber(available) ~= -1 then redis.call('INCRBY', KEYS[3 * i - 1], units) end
  end
  if answer == '' then redis.call('DEL', KEYS[3 * i - 2])
  else redis.call('SET', KEYS[3 * i - 2], answer, 'EX', ARGV[1]) end
  redis.call('DEL', KEYS[3 * i])
end
return 0
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
        self._decided = self.client.register_script(_DECIDED)
        self._load = self.client.register_script(_LOAD)
        self._add = self.client.register_script(_ADD)
        # This turn's calls: (keys, arguments, future) of new reservations, and of decided ones.
        self._reserves: list[tuple[tuple, tuple, asyncio.Future]] = []
        self._decisions: list[tuple[tuple, tuple, asyncio.Future]] = []
        self._round_trips: set[asyncio.Task] = set()

    async def close(self) -> None:
        await self.client.aclose()

    async def try_reserve(self, sku: str, order_id: str, user_id: str, quantity: int) -> FastOutcome:
        kind, value = await self._queue(self._reserves, (
            available_key(sku), answer_key("reserve", order_id), user_orders_key(user_id)), (quantity,))
        if kind == "ERROR":
            raise RedisError(f"reservation script failed for order {order_id}: {value}")
        if kind == "ANSWER" and value == "PENDING":
            return FastOutcome("PENDING", "")
        return FastOutcome(kind, value)

    async def decided(self, operation: str, order_id: str, answer: Answer | None, sku: str,
                      give_back: int = 0) -> None:
        """After the database decided (or failed to): give back `give_back` held units, remember the
        answer (or forget the pending mark) and drop the SKU's cached view."""
        remembered = "" if answer is None else _stored_text(answer)
        await self._queue(self._decisions, (answer_key(operation, order_id), available_key(sku), view_key(sku)),
                          (remembered, give_back))

    def _queue(self, calls: list, keys: tuple, arguments: tuple) -> asyncio.Future:
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        calls.append((keys, arguments, future))
        if len(self._reserves) + len(self._decisions) == 1:  # the turn's first: send once the others queued
            loop.call_soon(self._send)
        return future

    def _send(self) -> None:
        reserves, decisions, self._reserves, self._decisions = self._reserves, self._decisions, [], []
        task = asyncio.ensure_future(self._round_trip(reserves, decisions))
        self._round_trips.add(task)
        task.add_done_callback(self._round_trips.discard)

    async def _round_trip(self, reserves: list, decisions: list) -> None:
        calls = []
        if reserves:
            calls.append((self._reserve, [key for keys, _, _ in reserves for key in keys],
                          [ORDER_INTERVAL_MS, PENDING_TTL_MS, *(quantity for _, (quantity,), _ in reserves)]))
        if decisions:
            calls.append((self._decided, [key for keys, _, _ in decisions for key in keys],
                          [ANSWER_TTL_SECONDS, *(value for _, arguments, _ in decisions for value in arguments)]))
        try:
            replies = await self._pipeline(calls)
        except BaseException as error:
            for _, _, future in (*reserves, *decisions):
                if not future.done():
                    future.set_exception(error)
            return
        if reserves:
            outcomes = replies.pop(0)
            for n, (_, _, future) in enumerate(reserves):
                if not future.done():
                    _resolve(future, outcomes, (outcomes[2 * n], outcomes[2 * n + 1]))
        if decisions:
            outcome = replies.pop(0)
            for _, _, future in decisions:
                if not future.done():
                    _resolve(future, outcome, None)

    async def _pipeline(self, calls: list) -> list:
        async with self.client.pipeline(transaction=False) as pipe:
            for script, keys, arguments in calls:
                pipe.execute_command("EVALSHA", script.sha, len(keys), *keys, *arguments)
            replies = await pipe.execute(raise_on_error=False)
        missing = [i for i, reply in enumerate(replies) if isinstance(reply, NoScriptError)]
        if missing:  # Redis restarted (it keeps no scripts): those did not run; load the scripts, run them
            for script in (self._reserve, self._decided):
                await self.client.script_load(script.script)
            for i, reply in zip(missing, await self._pipeline([calls[i] for i in missing])):
                replies[i] = reply
        return replies

    async def load(self, sku: str, available: int | None) -> None:
        await self._load(keys=[available_key(sku)], args=[UNLIMITED if available is None else available])

    async def give_back(self, sku: str, quantity: int) -> None:
        await self._add(keys=[available_key(sku)], args=[quantity])

    async def set_available(self, sku: str, available: int | None) -> None:
        await self.client.set(available_key(sku), UNLIMITED if available is None else available)

    async def remember(self, operation: str, order_id: str, answer: Answer) -> None:
        await self.client.set(answer_key(operation, order_id), _stored_text(answer), ex=ANSWER_TTL_SECONDS)

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


def _resolve(future: asyncio.Future, reply, result) -> None:
    if isinstance(reply, Exception):  # the script call's own error
        future.set_exception(reply)
    else:
        future.set_result(result)


def _stored_text(answer: Answer) -> str:
    """An answer as Redis keeps it; `stored_answer` reads it back."""
    return orjson.dumps({"status": answer.status_code, "body": answer.body}).decode()


def stored_answer(raw: str) -> Answer:
    data = orjson.loads(raw)
    return Answer(data["status"], data["body"])
