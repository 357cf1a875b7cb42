"""Price history and change alerts from a history with known moves; each alert sent once; notifier retries."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from decimal import Decimal

from dagster import DagsterInstance, materialize
from sqlalchemy import func, insert, select, update
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from commerce_core.db.cursors import utcnow
from commerce_core.db.engine import get_engine
from commerce_core.db.schema import price_alerts, price_history, product_prices, products
from commerce_core.monitoring import price_watch
from hub_assets.monitoring import price_change_alerts, price_history as price_history_asset
from resources import CatalogDatabase, NotifierResource
from simulators.asgi_server import ServedApp

DAY = date(2025, 3, 10)


def _product(conn, code: str, price: str, seats: int | None) -> uuid.UUID:
    product_id, now = uuid.uuid4(), utcnow()
    conn.execute(insert(products).values(
        id=product_id, supplier_id="SERP", external_product_id=code, name=code, description="", language="en-US",
        product_type="Tour", category="c", available_seats=seats, status="Published", is_active=True, tags=[],
        missing_languages=[], content_hash="0" * 32, created_at=now, updated_at=now))
    conn.execute(insert(product_prices).values(product_id=product_id, position=0, amount=Decimal(price),
                                               currency="TWD", price_type="Adult"))
    return product_id


def _set(engine, product_id, *, price: str | None = None, seats: int | None = None) -> None:
    with engine.begin() as conn:
        if price is not None:
            conn.execute(update(product_prices).where(product_prices.c.product_id == product_id)
                         .values(amount=Decimal(price)))
        if seats is not None:
            conn.execute(update(products).where(products.c.id == product_id).values(available_seats=seats))


def _history_with_known_moves(engine) -> dict[str, uuid.UUID]:
    """Ten days of quiet, then on DAY: A +20 %, B −15 % (also a 30-day low), C sold out, D back, E +5 %."""
    with engine.begin() as conn:
        ids = {code: _product(conn, code, price, seats) for code, price, seats in
               (("A", "1000", 5), ("B", "2000", 5), ("C", "500", 3), ("D", "800", 0), ("E", "100", 9))}
    for offset in range(10, 0, -1):
        price_watch.snapshot_day(engine, DAY - timedelta(days=offset))
    _set(engine, ids["A"], price="1200")
    _set(engine, ids["B"], price="1700")
    _set(engine, ids["C"], seats=0)
    _set(engine, ids["D"], seats=4)
    _set(engine, ids["E"], price="105")
    price_watch.snapshot_day(engine, DAY)
    return ids


def test_alerts_from_a_history_with_known_moves(database_url):
    engine = get_engine(database_url)
    ids = _history_with_known_moves(engine)
    with engine.connect() as conn:
        history = price_watch.load_history(conn, DAY)
        assert conn.execute(select(func.count()).select_from(price_history)).scalar_one() == 55
    alerts = price_watch.detect_alerts(history, DAY, price_watch.Thresholds(up_pct=10, down_pct=10))
    found = {(row.kind, row.external_product_id) for row in alerts.itertuples()}
    assert found == {("price_up", "A"), ("price_down", "B"), ("new_low_30d", "B"), ("sold_out", "C"),
                     ("back_in_stock", "D")}
    up = alerts[alerts["kind"] == "price_up"].iloc[0]
    assert (up.previous_value, up.current_value, float(up.change_pct)) == (Decimal("1000"), Decimal("1200"), 20.0)
    # Stricter thresholds let fewer through; a looser one catches E's 5 %.
    assert "price_up" not in set(price_watch.detect_alerts(history, DAY, price_watch.Thresholds(25, 25))["kind"])
    assert ("price_up", "E") in {(r.kind, r.external_product_id) for r in price_watch.detect_alerts(
        history, DAY, price_watch.Thresholds(5, 5)).itertuples()}
    # A rerun of the day replaces the snapshot rather than adding to it.
    price_watch.snapshot_day(engine, DAY)
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(price_history)
                            .where(price_history.c.snapshot_date == DAY)).scalar_one() == 5
        assert conn.execute(select(price_history.c.amount).where(
            price_history.c.snapshot_date == DAY, price_history.c.product_id == ids["A"])).scalar_one() == 1200


class _FlakyReceiver:
    """Answers 500 to the first `failures` POSTs, then keeps every alert."""

    def __init__(self, failures: int):
        self.failures, self.calls, self.received = failures, 0, []

        async def receive(request: Request) -> JSONResponse:
            self.calls += 1
            if self.calls <= self.failures:
                return JSONResponse({"error": "busy"}, status_code=500)
            self.received.append(await request.json())
            return JSONResponse({"ok": True})

        self.served = ServedApp(Starlette(routes=[Route("/alerts", receive, methods=["POST"])])).start()
        self.url = f"{self.served.url}/alerts"


def test_the_assets_send_each_alert_once_through_a_retrying_notifier(database_url):
    engine = get_engine(database_url)
    _history_with_known_moves(engine)
    receiver = _FlakyReceiver(failures=2)
    try:
        resources = {"catalog_db": CatalogDatabase(database_url=database_url),
                     "notifier": NotifierResource(webhook_url=receiver.url, backoff_seconds=0.01)}
        instance = DagsterInstance.ephemeral()
        result = materialize([price_history_asset, price_change_alerts], resources=resources, instance=instance,
                             partition_key=DAY.isoformat())
        assert result.success
        metadata = result.asset_materializations_for_node("price_change_alerts")[0].metadata
        assert (metadata["sent"].value, metadata["price_up"].value, metadata["sold_out"].value) == (5, 1, 1)
        assert "| A | TWD | Adult | 1,000.00 | 1,200.00 | +20.0 |" in metadata["top_movers"].value
        assert "| B | TWD | Adult | 2,000.00 | 1,700.00 | -15.0 |" in metadata["top_movers"].value
        assert metadata["top_movers_chart"].value.startswith("![price lines of the top movers](data:image/png;base64,")
        assert len(receiver.received) == 5 and receiver.calls == 7  # two refused, retried, then delivered
        again = materialize([price_history_asset, price_change_alerts], resources=resources, instance=instance,
                            partition_key=DAY.isoformat())
        assert again.asset_materializations_for_node("price_change_alerts")[0].metadata["sent"].value == 0
        assert len(receiver.received) == 5  # never twice
        with engine.connect() as conn:
            assert conn.execute(select(func.count()).select_from(price_alerts)
                                .where(price_alerts.c.sent_at.is_not(None))).scalar_one() == 5
    finally:
        receiver.served.stop()
