"""The stock ledger (system of record) and the conditional updates that keep stock_levels.

Every change is a ledger row and an update of the SKU's stock_levels row in the
same transaction; stock_levels is what the ledger adds up to (reconciliation
checks it). A reservation is one conditional UPDATE — `reserved + q` only where
`on_hand - reserved >= q` — so concurrent transactions, in any number of
processes, can never reserve more than there is. A write's first answer is
stored under its idempotency key in the same transaction as its effect.
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

ORDER_INTERVAL = timedelta(seconds=1)  # seeds/004 §2D: one order per second per user


@dataclass(frozen=True)
class Answer:
    status_code: int
    body: dict
    retry_after: float | None = None

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
    rows = conn.execute(select(stock_answers.c.idempotency_key, stock_answers.c.status_code, stock_answers.c.body)
                        .where(stock_answers.c.idempotency_key.in_(list(keys))))
    return {key: Answer(status, orjson.loads(body)) for key, status, body in rows}


def store_answer(conn: Connection, key: str, answer: Answer, now: datetime) -> bool:
    """False when another transaction already answered this key (its answer wins)."""
    statement = _upsert(conn)(stock_answers).values(
        idempotency_key=key, status_code=answer.status_code, body=answer.json().decode(), created_at=now
    ).on_conflict_do_nothing(index_elements=["idempotency_key"])
    return conn.execute(statement).rowcount == 1


def _ledger(conn: Connection, rows: list[dict]) -> None:
    if rows:
        conn.execute(insert(stock_ledger), rows)


def _take_order_slot(conn: Connection, user_id: str, now: datetime) -> float | None:
    """None if the user may order now (and takes the slot), else the seconds to wait."""
    statement = _upsert(conn)(stock_user_orders).values(user_id=user_id, last_order_at=now)
    statement = statement.on_conflict_do_update(
        index_elements=["user_id"], set_={"last_order_at": now},
        where=stock_user_orders.c.last_order_at <= now - ORDER_INTERVAL,
    )
    if conn.execute(statement).rowcount == 1:
        return None
    last = conn.execute(select(stock_user_orders.c.last_order_at)
                        .where(stock_user_orders.c.user_id == user_id)).scalar_one()
    return max(0.001, (last + ORDER_INTERVAL - now).total_seconds())


def reserve_key(order_id: str) -> str:
    return f"reserve:{order_id}"


def reserve(conn: Connection, requests: Sequence[ReserveRequest], now: datetime, hold: timedelta, *,
            rate_limit: bool) -> list[Answer]:
    """Decide a batch of reservations in the caller's transaction (group commit), in order.

    rate_limit: enforce the per-user order interval here (database-only mode; with
    Redis the fast path already did).
    """
    earlier = stored_answers(conn, [reserve_key(r.order_id) for r in requests])
    answers: list[Answer] = []
    for request in requests:
        key = reserve_key(request.order_id)
        if key in earlier:
            answers.append(earlier[key])
            continue
        if rate_limit:
            wait = _take_order_slot(conn, request.user_id, now)
            if wait is not None:
                answers.append(Answer(429, {"error": "rate_limited", "message":
                                            f"user {request.user_id} may place one order per second",
                                            "retryAfter": round(wait, 3)}, retry_after=wait))
                continue
        answer = _reserve_one(conn, request, now, hold)
        if not store_answer(conn, key, answer, now):
            # The same order id was decided by another transaction that committed first.
            if answer.status_code == 201:
                _undo_reservation(conn, request)
            answer = stored_answers(conn, [key])[key]
        earlier[key] = answer
        answers.append(answer)
    return answers


def _reserve_one(conn: Connection, request: ReserveRequest, now: datetime, hold: timedelta) -> Answer:
    levels = stock_levels.c
    taken = conn.execute(
        update(stock_levels)
        .where(levels.sku == request.sku,
               or_(levels.unlimited, levels.on_hand - levels.reserved >= request.quantity))
        .values(reserved=levels.reserved + request.quantity, updated_at=now)
    ).rowcount
    if not taken:
        level = get_level(conn, request.sku)
        if level is None:
            return Answer(404, {"error": "unknown_sku", "message": f"no stock is kept for SKU {request.sku}"})
        return Answer(409, {"error": "out_of_stock", "sku": request.sku, "requested": request.quantity,
                            "available": max(0, available(level))})
    expires_at = now + hold
    inserted = conn.execute(
        _upsert(conn)(stock_reservations).values(
            order_id=request.order_id, sku=request.sku, user_id=request.user_id, quantity=request.quantity,
            status="open", created_at=now, expires_at=expires_at, updated_at=now,
        ).on_conflict_do_nothing(index_elements=["order_id"])
    ).rowcount
    if not inserted:  # the order id is already a reservation (decided elsewhere): give the stock back
        _undo_reservation(conn, request)
        existing = conn.execute(select(stock_reservations).where(
            stock_reservations.c.order_id == request.order_id)).first()
        return Answer(409, {"error": "order_exists", "message": f"order {request.order_id} already holds "
                            f"{existing.quantity} of {existing.sku}", "reservation": reservation_body(existing)})
    _ledger(conn, [{"sku": request.sku, "entry_type": "reserve", "on_hand_delta": 0,
                    "reserved_delta": request.quantity, "order_id": request.order_id, "source": "api",
                    "created_at": now}])
    return Answer(201, {"orderId": request.order_id, "sku": request.sku, "quantity": request.quantity,
                        "status": "open", "expiresAt": expires_at.isoformat()})


def _undo_reservation(conn: Connection, request: ReserveRequest) -> None:
    conn.execute(update(stock_levels).where(stock_levels.c.sku == request.sku)
                 .values(reserved=stock_levels.c.reserved - request.quantity))


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

