"""The Redis fast path: one atomic script per reservation (idempotency, rate limit, stock check, decrement).

Redis answers the cheap questions without the database — a retried order, a user
ordering too fast, a sold-out SKU — and holds back the stock it lets through.
The database still decides (group commit) and is the record: a reservation the
database refuses, or that fails to commit, is given back here. Redis keeps
nothing on disk, so a missing SKU key means "not loaded", never "zero": it is
loaded from the database on first use.

The reservation path's commands (a new request's script, a decided request's
answer) are queued: whatever the event loop queues in one turn goes to Redis in
one pipeline, one round trip for all of them. Each reservation is still its own
atomic script call.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import orjson
import redis.asyncio as aioredis
from redis.exceptions import NoScriptError

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
        self._queued: list[tuple[list[tuple], asyncio.Future]] = []
        self._round_trips: set[asyncio.Task] = set()

    async def close(self) -> None:
        await self.client.aclose()

    async def try_reserve(self, sku: str, order_id: str, user_id: str, quantity: int) -> FastOutcome:
        [reply] = await self._queue([
            ("EVALSHA", self._reserve.sha, 3, available_key(sku), answer_key("reserve", order_id),
             user_orders_key(user_id), quantity, ORDER_INTERVAL_MS, PENDING_TTL_MS)])
        kind, value = _value(reply)
        if kind == "ANSWER" and value == "PENDING":
            return FastOutcome("PENDING", "")
        return FastOutcome(kind, value)

    async def decided(self, operation: str, order_id: str, answer: Answer | None, sku: str,
                      give_back: int = 0) -> None:
        """After the database decided (or failed to): give back `give_back` held units, remember the
        answer (or forget the pending mark) and drop the SKU's cached view, all in the turn's pipeline."""
        commands = [("EVALSHA", self._add.sha, 1, available_key(sku), give_back)] if give_back else []
        if answer is None:
            commands.append(("DEL", answer_key(operation, order_id)))
        else:
            commands.append(("SET", answer_key(operation, order_id),
                             orjson.dumps({"status": answer.status_code, "body": answer.body}).decode(),
                             "EX", ANSWER_TTL_SECONDS))
        commands.append(("DEL", view_key(sku)))
        for reply in await self._queue(commands):
            _value(reply)

    def _queue(self, commands: list[tuple]) -> asyncio.Future:
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self._queued.append((commands, future))
        if len(self._queued) == 1:  # the first this turn: send once the turn's other requests queued theirs
            loop.call_soon(self._send)
        return future

    def _send(self) -> None:
        queued, self._queued = self._queued, []
        task = asyncio.ensure_future(self._round_trip(queued))
        self._round_trips.add(task)
        task.add_done_callback(self._round_trips.discard)

    async def _round_trip(self, queued: list[tuple[list[tuple], asyncio.Future]]) -> None:
        try:
            replies = await self._pipeline([command for commands, _ in queued for command in commands])
        except BaseException as error:
            for _, future in queued:
                if not future.done():
                    future.set_exception(error)
            return
        at = 0
        for commands, future in queued:
            if not future.done():
                future.set_result(replies[at:at + len(commands)])
            at += len(commands)

    async def _pipeline(self, commands: list[tuple]) -> list:
        async with self.client.pipeline(transaction=False) as pipe:
            for command in commands:
                pipe.execute_command(*command)
            replies = await pipe.execute(raise_on_error=False)
        missing = [i for i, reply in enumerate(replies) if isinstance(reply, NoScriptError)]
        if missing:  # Redis restarted (it keeps no scripts): those did not run; load the scripts, run them
            for script in (self._reserve, self._add):
                await self.client.script_load(script.script)
            for i, reply in zip(missing, await self._pipeline([commands[i] for i in missing])):
                replies[i] = reply
        return replies

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


def _value(reply):
    if isinstance(reply, Exception):  # a pipelined command's own error
        raise reply
    return reply


def stored_answer(raw: str) -> Answer:
    data = orjson.loads(raw)
    return Answer(data["status"], data["body"])
