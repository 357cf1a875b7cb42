"""The stock ledger (system of record) and the conditional updates that keep stock_levels.

Every change is a ledger row and an update of the SKU's stock_levels row in the
same transaction; stock_levels is what the ledger adds up to (reconciliation
checks it). A reservation is one conditional UPDATE — `reserved + q` only where
`on_hand - reserved >= q` — so concurrent transactions, in any number of
processes, can never reserve more than there is. A write's first answer is
stored under its idempotency key in the same transaction as its effect.

On PostgreSQL the statements a reservation batch runs (group commit) go to the
driver as SQL written once, each column of the batch one array parameter
(`unnest`): no statement is compiled per batch and nothing is done per row in
Python but building those arrays. Elsewhere (SQLite) the same statements are
SQLAlchemy Core. Both run the same algorithm, in the same order.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import orjson
from sqlalchemy import Connection, func, insert, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from commerce_core.db.schema import (
    stock_answers,
    stock_ledger,
    stock_levels,
    stock_reservations,
    stock_user_orders,
)

ORDER_INTERVAL = timedelta(seconds=1)  # flash-sale notes §2D (docs/background.md): one order per second per user


@dataclass(frozen=True)
class Answer:
    status_code: int
    body: dict
    retry_after: float | None = None
    fresh: bool = False  # this call took the stock (a replayed first answer is not fresh)

    def json(self) -> bytes:
        return orjson.dumps(self.body)


@dataclass(frozen=True)
class ReserveRequest:
    order_id: str
    sku: str
    user_id: str
    quantity: int


def _upsert(conn: Connection):
    return pg_insert if conn.dialect.name == "postgresql" else sqlite_insert


def _pg_cursor(conn: Connection):
    """PostgreSQL (psycopg2): a driver cursor inside the caller's transaction. None elsewhere."""
    if conn.dialect.name == "postgresql" and conn.dialect.driver == "psycopg2":
        return conn.connection.cursor()
    return None


def available(level) -> int | None:
    return None if level.unlimited else level.on_hand - level.reserved


def level_body(sku: str, level) -> dict:
    return {"sku": sku, "available": available(level), "onHand": level.on_hand, "reserved": level.reserved,
            "unlimited": level.unlimited}


def get_level(conn: Connection, sku: str):
    return conn.execute(select(stock_levels).where(stock_levels.c.sku == sku)).first()


def stored_answers(conn: Connection, keys: Sequence[str]) -> dict[str, Answer]:
    if not keys:
        return {}
    cursor = _pg_cursor(conn)
    if cursor is not None:
        with cursor:
            cursor.execute("SELECT idempotency_key, status_code, body FROM stock_answers "
                           "WHERE idempotency_key = ANY(%s)", (list(keys),))
            return {key: Answer(status, orjson.loads(body)) for key, status, body in cursor.fetchall()}
    rows = conn.execute(select(stock_answers.c.idempotency_key, stock_answers.c.status_code, stock_answers.c.body)
                        .where(stock_answers.c.idempotency_key.in_(list(keys))))
    return {key: Answer(status, orjson.loads(body)) for key, status, body in rows}


def store_answer(conn: Connection, key: str, answer: Answer, now: datetime) -> bool:
    """False when another transaction already answered this key (its answer wins)."""
    return not _store_answers(conn, [(key, answer)], now)


def _ledger(conn: Connection, rows: list[dict]) -> None:
    if rows:
        conn.execute(insert(stock_ledger), rows)


def reserve_key(order_id: str) -> str:
    return f"reserve:{order_id}"


def _rate_limited(user_id: str, wait: float) -> Answer:
    return Answer(429, {"error": "rate_limited", "message": f"user {user_id} may place one order per second",
                        "retryAfter": round(wait, 3)}, retry_after=wait)


def _take_order_slots(conn: Connection, requests: Sequence[ReserveRequest], now: datetime) -> dict[str, float]:
    """One conditional upsert for the batch's users; returns the users who must wait, and how long."""
    users = list(dict.fromkeys(r.user_id for r in requests))
    cursor = _pg_cursor(conn)
    if cursor is not None:
        with cursor:
            cursor.execute(
                "INSERT INTO stock_user_orders (user_id, last_order_at) SELECT u, %(now)s "
                "FROM unnest(%(users)s::text[]) AS t(u) ON CONFLICT (user_id) DO UPDATE "
                "SET last_order_at = excluded.last_order_at WHERE stock_user_orders.last_order_at <= %(since)s "
                "RETURNING user_id", {"now": now, "since": now - ORDER_INTERVAL, "users": users})
            took = {user for user, in cursor.fetchall()}
    else:
        statement = _upsert(conn)(stock_user_orders)
        statement = statement.on_conflict_do_update(
            index_elements=["user_id"], set_={"last_order_at": statement.excluded.last_order_at},
            where=stock_user_orders.c.last_order_at <= now - ORDER_INTERVAL,
        ).returning(stock_user_orders.c.user_id)
        took = set(conn.execute(statement, [{"user_id": u, "last_order_at": now} for u in users]).scalars())
    waiting = [u for u in users if u not in took]
    if not waiting:
        return {}
    last = dict(conn.execute(select(stock_user_orders.c.user_id, stock_user_orders.c.last_order_at)
                             .where(stock_user_orders.c.user_id.in_(waiting))).all())
    return {u: max(0.001, (last[u] + ORDER_INTERVAL - now).total_seconds()) for u in waiting}


def reserve(conn: Connection, requests: Sequence[ReserveRequest], now: datetime, hold: timedelta, *,
            rate_limit: bool) -> list[Answer]:
    """Decide a batch of reservations in the caller's transaction (group commit), in arrival order.

    Set-based: per SKU one conditional UPDATE takes the whole batch's quantity when
    it fits (the usual case); only a SKU about to sell out is decided request by
    request, each again a conditional UPDATE. Rows go in with one multi-row
    statement per table. rate_limit: enforce the per-user order interval here
    (database-only mode; with Redis the fast path already did).
    """
    answers: list[Answer | None] = [None] * len(requests)
    earlier = stored_answers(conn, [reserve_key(r.order_id) for r in requests])
    first_of_order: dict[str, int] = {}
    todo: list[int] = []
    for index, request in enumerate(requests):
        if reserve_key(request.order_id) in earlier:
            answers[index] = earlier[reserve_key(request.order_id)]
        elif request.order_id not in first_of_order:
            first_of_order[request.order_id] = index
            todo.append(index)
    if rate_limit and todo:
        first_of_user: dict[str, int] = {}
        for index in todo:
            first_of_user.setdefault(requests[index].user_id, index)
        waits = _take_order_slots(conn, [requests[i] for i in first_of_user.values()], now)
        kept = []
        for index in todo:
            user = requests[index].user_id
            if user in waits or first_of_user[user] != index:  # a second order in the same instant waits too
                answers[index] = _rate_limited(user, waits.get(user, 1.0))
            else:
                kept.append(index)
        todo = kept
    accepted = _take_stock(conn, requests, todo, now, answers)
    expires_at = now + hold
    for index in accepted:
        request = requests[index]
        answers[index] = Answer(201, {"orderId": request.order_id, "sku": request.sku, "quantity": request.quantity,
                                      "status": "open", "expiresAt": expires_at.isoformat()}, fresh=True)
    # The first answer is claimed before any effect is written: an order another transaction decided
    # meanwhile gets that answer, and the stock this batch took for it goes back.
    decided = [i for i in todo if answers[i] is not None and answers[i].status_code in (201, 409)]
    lost = _claim_and_record(conn, requests, decided, answers, accepted, now, expires_at)
    if lost:
        stored = stored_answers(conn, list(lost))
        taken = set(accepted)
        for index in decided:
            key = reserve_key(requests[index].order_id)
            if key in lost:
                if index in taken:
                    _give_back(conn, requests[index].sku, requests[index].quantity)
                answers[index] = stored[key]
    for index, request in enumerate(requests):  # repeats of an order id within the batch
        if answers[index] is None:
            answers[index] = answers[first_of_order[request.order_id]]
    return answers


def _take_stock(conn: Connection, requests: Sequence[ReserveRequest], todo: list[int], now: datetime,
                answers: list) -> list[int]:
    by_sku: dict[str, list[int]] = {}
    for index in todo:
        by_sku.setdefault(requests[index].sku, []).append(index)
    accepted: list[int] = []
    for sku in sorted(by_sku):  # one lock order for every transaction: no deadlocks between batches
        indexes = by_sku[sku]
        if _take(conn, sku, sum(requests[i].quantity for i in indexes), now):
            accepted += indexes
            continue
        for index in indexes:  # not all fit: first come, first served
            if _take(conn, sku, requests[index].quantity, now):
                accepted.append(index)
        level = get_level(conn, sku)
        taken = set(accepted)
        for index in indexes:
            if index in taken:
                continue
            request = requests[index]
            answers[index] = (
                Answer(404, {"error": "unknown_sku", "message": f"no stock is kept for SKU {sku}"}) if level is None
                else Answer(409, {"error": "out_of_stock", "sku": sku, "requested": request.quantity,
                                  "available": max(0, available(level))})
            )
    return accepted


def _take(conn: Connection, sku: str, quantity: int, now: datetime) -> bool:
    """The conditional UPDATE: reserve `quantity` only if it is there (never read-modify-write)."""
    cursor = _pg_cursor(conn)
    if cursor is not None:
        with cursor:
            cursor.execute("UPDATE stock_levels SET reserved = reserved + %(q)s, updated_at = %(now)s "
                           "WHERE sku = %(sku)s AND (unlimited OR on_hand - reserved >= %(q)s)",
                           {"q": quantity, "now": now, "sku": sku})
            return cursor.rowcount == 1
    levels = stock_levels.c
    return conn.execute(
        update(stock_levels)
        .where(levels.sku == sku, or_(levels.unlimited, levels.on_hand - levels.reserved >= quantity))
        .values(reserved=levels.reserved + quantity, updated_at=now)
    ).rowcount == 1


def _claim_and_record(conn: Connection, requests: Sequence[ReserveRequest], decided: list[int], answers: list,
                      accepted: list[int], now: datetime, expires_at: datetime) -> set[str]:
    """Store the decided orders' first answers, then record the accepted orders whose answer this call
    stored (reservation and ledger rows). Returns the keys another transaction had answered already."""
    keys = [reserve_key(requests[i].order_id) for i in decided]
    cursor = _pg_cursor(conn)
    if cursor is None:
        lost = _store_answers(conn, list(zip(keys, (answers[i] for i in decided))), now)
        recorded = [i for i in accepted if reserve_key(requests[i].order_id) not in lost]
        if recorded:
            conn.execute(insert(stock_reservations), [
                {"order_id": requests[i].order_id, "sku": requests[i].sku, "user_id": requests[i].user_id,
                 "quantity": requests[i].quantity, "status": "open", "created_at": now, "expires_at": expires_at,
                 "updated_at": now} for i in recorded
            ])
            _ledger(conn, [{"sku": requests[i].sku, "entry_type": "reserve", "on_hand_delta": 0,
                            "reserved_delta": requests[i].quantity, "order_id": requests[i].order_id,
                            "source": "api", "created_at": now} for i in recorded])
        return lost
    if not keys:
        return set()
    with cursor:  # one statement, one round trip
        cursor.execute(
            "WITH claimed AS (INSERT INTO stock_answers (idempotency_key, status_code, body, created_at) "
            "SELECT k, c, b, %(now)s FROM unnest(%(keys)s::text[], %(codes)s::int[], %(bodies)s::text[]) AS a(k, c, b) "
            "ON CONFLICT (idempotency_key) DO NOTHING RETURNING idempotency_key), "
            "recorded AS (INSERT INTO stock_reservations (order_id, sku, user_id, quantity, status, created_at, "
            "expires_at, updated_at) SELECT o, s, u, q, 'open', %(now)s, %(expires)s, %(now)s FROM unnest("
            "%(accepted)s::text[], %(orders)s::text[], %(skus)s::text[], %(users)s::text[], %(quantities)s::int[]) "
            "AS r(k, o, s, u, q) WHERE k IN (SELECT idempotency_key FROM claimed) RETURNING order_id, sku, quantity), "
            "ledger AS (INSERT INTO stock_ledger (sku, entry_type, on_hand_delta, reserved_delta, order_id, source, "
            "created_at) SELECT sku, 'reserve', 0, quantity, order_id, 'api', %(now)s FROM recorded) "
            "SELECT idempotency_key FROM claimed",
            {"now": now, "expires": expires_at, "keys": keys, "codes": [answers[i].status_code for i in decided],
             "bodies": [answers[i].json().decode() for i in decided],
             "accepted": [reserve_key(requests[i].order_id) for i in accepted],
             "orders": [requests[i].order_id for i in accepted], "skus": [requests[i].sku for i in accepted],
             "users": [requests[i].user_id for i in accepted], "quantities": [requests[i].quantity for i in accepted]})
        stored = {key for key, in cursor.fetchall()}
    return set(keys) - stored


def _give_back(conn: Connection, sku: str, quantity: int) -> None:
    conn.execute(update(stock_levels).where(stock_levels.c.sku == sku)
                 .values(reserved=stock_levels.c.reserved - quantity))


def _store_answers(conn: Connection, items: list[tuple[str, Answer]], now: datetime) -> set[str]:
    """Store first answers; returns the keys another transaction had answered already."""
    if not items:
        return set()
    statement = _upsert(conn)(stock_answers).on_conflict_do_nothing(
        index_elements=["idempotency_key"]).returning(stock_answers.c.idempotency_key)
    stored = set(conn.execute(statement, [
        {"idempotency_key": key, "status_code": answer.status_code, "body": answer.json().decode(),
         "created_at": now} for key, answer in items
    ]).scalars())
    return {key for key, _ in items} - stored


def reservation_body(row) -> dict:
    return {"orderId": row.order_id, "sku": row.sku, "quantity": row.quantity, "status": row.status,
            "expiresAt": row.expires_at.isoformat()}


@dataclass(frozen=True)
class Settlement:
    answer: Answer
    moved: bool  # this call changed the reservation (and the stock)
    sku: str | None = None
    quantity: int = 0


def settle(conn: Connection, order_id: str, action: str, now: datetime, *, source: str = "api") -> Settlement:
    """release (cancellation), confirm (paid) or expire an open reservation, idempotently."""
    target = {"release": "released", "confirm": "confirmed", "expire": "expired"}[action]
    key = f"{action}:{order_id}"
    if action != "expire":
        earlier = stored_answers(conn, [key]).get(key)
        if earlier is not None:
            return Settlement(earlier, moved=False)
    row = conn.execute(select(stock_reservations).where(stock_reservations.c.order_id == order_id)).first()
    if row is None:
        return Settlement(Answer(404, {"error": "unknown_order", "message": f"order {order_id} holds no reservation"}),
                          moved=False)
    moved = conn.execute(
        update(stock_reservations)
        .where(stock_reservations.c.order_id == order_id, stock_reservations.c.status == "open")
        .values(status=target, updated_at=now)
    ).rowcount
    if not moved:
        earlier = stored_answers(conn, [key]).get(key) if action != "expire" else None
        if earlier is not None:  # a concurrent retry of this same call moved it first
            return Settlement(earlier, moved=False)
        if row.status == target:
            return Settlement(Answer(200, reservation_body(row)), moved=False)
        return Settlement(Answer(409, {"error": f"already_{row.status}",
                                       "message": f"order {order_id} is {row.status}; it cannot be {target}",
                                       "reservation": reservation_body(row)}), moved=False)
    on_hand_delta = -row.quantity if action == "confirm" else 0
    conn.execute(update(stock_levels).where(stock_levels.c.sku == row.sku).values(
        on_hand=stock_levels.c.on_hand + on_hand_delta, reserved=stock_levels.c.reserved - row.quantity,
        updated_at=now))
    _ledger(conn, [{"sku": row.sku, "entry_type": action, "on_hand_delta": on_hand_delta,
                    "reserved_delta": -row.quantity, "order_id": order_id, "source": source, "created_at": now}])
    answer = Answer(200, {**reservation_body(row), "status": target})
    if action != "expire":
        store_answer(conn, key, answer, now)
    return Settlement(answer, moved=True, sku=row.sku, quantity=row.quantity)


def expired_orders(conn: Connection, now: datetime, limit: int = 500) -> list[str]:
    return list(conn.execute(
        select(stock_reservations.c.order_id)
        .where(stock_reservations.c.status == "open", stock_reservations.c.expires_at <= now)
        .order_by(stock_reservations.c.expires_at).limit(limit)
    ).scalars())


def set_stock(conn: Connection, sku: str, quantity: int | None, now: datetime, *, source: str,
              entry_type: str = "adjust") -> tuple[int, bool, bool]:
    """Set on-hand stock (None = unlimited). Returns (available delta, was unlimited, is unlimited)."""
    unlimited = quantity is None
    on_hand = 0 if unlimited else quantity
    level = conn.execute(select(stock_levels).where(stock_levels.c.sku == sku).with_for_update()).first()
    if level is None:
        conn.execute(insert(stock_levels).values(sku=sku, on_hand=on_hand, reserved=0, unlimited=unlimited,
                                                 updated_at=now))
        delta, was_unlimited = on_hand, False
    else:
        delta, was_unlimited = on_hand - level.on_hand, level.unlimited
        conn.execute(update(stock_levels).where(stock_levels.c.sku == sku)
                     .values(on_hand=on_hand, unlimited=unlimited, updated_at=now))
    _ledger(conn, [{"sku": sku, "entry_type": entry_type, "on_hand_delta": delta, "reserved_delta": 0,
                    "unlimited": unlimited, "source": source, "created_at": now}])
    return delta, was_unlimited, unlimited


def ledger_totals(conn: Connection, skus: Sequence[str] | None = None) -> dict[str, tuple[int, int]]:
    """(on_hand, reserved) per SKU as the ledger adds them up."""
    query = select(stock_ledger.c.sku, func.sum(stock_ledger.c.on_hand_delta),
                   func.sum(stock_ledger.c.reserved_delta)).group_by(stock_ledger.c.sku)
    if skus is not None:
        query = query.where(stock_ledger.c.sku.in_(list(skus)))
    return {sku: (int(on_hand or 0), int(reserved or 0)) for sku, on_hand, reserved in conn.execute(query)}


def low_stock(conn: Connection, threshold: int, limit: int = 500) -> list[dict]:
    levels = stock_levels.c
    rows = conn.execute(
        select(stock_levels).where(~levels.unlimited, levels.on_hand - levels.reserved < threshold)
        .order_by(levels.on_hand - levels.reserved, levels.sku).limit(limit)
    )
    return [level_body(row.sku, row) for row in rows]

