"""The reservation batch's first-answer claim when two transactions decide the same order at once."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

from sqlalchemy import select

from commerce_core.db.cursors import utcnow
from commerce_core.db.engine import get_engine
from commerce_core.db.migrate import upgrade
from commerce_core.db.schema import stock_levels, stock_reservations
from commerce_core.stock import ledger
from commerce_core.stock.ledger import ReserveRequest, ledger_totals
from tests.stock.helpers import unique

HOLD = timedelta(minutes=15)


def _blocked_on_a_lock(engine) -> bool:
    with engine.connect() as conn:
        return bool(conn.exec_driver_sql(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database() "
            "AND query LIKE 'UPDATE stock_levels%%'").scalar())


def test_an_order_decided_meanwhile_gets_that_answer_and_takes_nothing(postgres_schema):
    """Transaction B reads no earlier answer for order X, then waits for A (which reserves X) on the SKU's row.
    Once A commits, B's claim of X's first answer loses: B answers A's answer, gives back what it took for X,
    and records only its other order."""
    upgrade(postgres_schema)
    engine = get_engine(postgres_schema)
    sku, order, other = unique("SKU"), unique("o"), unique("o")
    with engine.begin() as conn:
        ledger.set_stock(conn, sku, 10, utcnow(), source="test")
    first = ReserveRequest(order, sku, unique("u"), 2)
    results = {}

    def second_transaction():
        with engine.begin() as conn:
            results["b"] = ledger.reserve(conn, [ReserveRequest(order, sku, first.user_id, 2),
                                                 ReserveRequest(other, sku, unique("u"), 3)],
                                          utcnow(), HOLD, rate_limit=False)

    with engine.begin() as conn:
        [results["a"]] = ledger.reserve(conn, [first], utcnow(), HOLD, rate_limit=False)
        b = threading.Thread(target=second_transaction)
        b.start()
        deadline = time.monotonic() + 30
        while not _blocked_on_a_lock(engine) and b.is_alive() and time.monotonic() < deadline:
            time.sleep(0.01)
        assert b.is_alive(), "B must wait for A's row lock"
    b.join(timeout=30)
    replayed, taken = results["b"]
    assert results["a"].status_code == 201 and results["a"].fresh
    assert replayed == ledger.Answer(201, results["a"].body) and not replayed.fresh
    assert taken.status_code == 201 and taken.fresh
    with engine.connect() as conn:
        level = conn.execute(select(stock_levels).where(stock_levels.c.sku == sku)).one()
        orders = set(conn.execute(select(stock_reservations.c.order_id)
                                  .where(stock_reservations.c.sku == sku)).scalars())
        assert (level.on_hand, level.reserved) == (10, 5)
        assert orders == {order, other}
        assert ledger_totals(conn, [sku]) == {sku: (10, 5)}
