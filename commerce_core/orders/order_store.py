"""Unified orders into the database, idempotently: an order is rewritten only when its content changed."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy import Engine, delete, func, select

from commerce_core.catalog.models import stable_hash
from commerce_core.db.bulk import insert_rows, upsert_rows
from commerce_core.db.cursors import utcnow
from commerce_core.db.lookup import in_keys
from commerce_core.db.schema import customers, order_lines, orders
from commerce_core.orders.unified import customers_from_orders

_NAMESPACE = uuid.UUID("0c7d2f4e-5b61-4a8e-9b3d-1f2e3a4b5c6d")


def customer_uuid(platform: str, email: str) -> uuid.UUID:
    return uuid.uuid5(_NAMESPACE, f"customer:{platform}:{email}")


def order_uuid(platform: str, external_id: str) -> uuid.UUID:
    return uuid.uuid5(_NAMESPACE, f"order:{platform}:{external_id}")


@dataclass
class OrderSaveResult:
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    customers: int = 0
    preview: list[dict] = field(default_factory=list)


def _hash(order: dict) -> str:
    return stable_hash({**order, "orderDate": order["orderDate"].isoformat(),
                        "lineItems": [{**line, "unitPrice": str(line["unitPrice"])} for line in order["lineItems"]],
                        "subtotal": str(order["subtotal"]), "total": str(order["total"])})


def save_orders(engine: Engine, platform: str, unified: list[dict]) -> OrderSaveResult:
    result = OrderSaveResult()
    now = utcnow()
    with engine.begin() as conn:
        known = dict(conn.execute(select(orders.c.external_id, orders.c.content_hash).where(
            orders.c.platform == platform,
            in_keys(conn, orders.c.external_id, [o["externalId"] for o in unified]))).all()) if unified else {}
        changed = []
        for order in unified:
            digest = _hash(order)
            if known.get(order["externalId"]) == digest:
                result.unchanged += 1
                continue
            changed.append((order, digest))
            if order["externalId"] in known:
                result.updated += 1
            else:
                result.inserted += 1
        # Customers: all orders of this read count (their totals are recomputed from the table below).
        people = customers_from_orders([order for order, _ in changed])
        upsert_rows(conn, customers, [
            {"id": customer_uuid(platform, c["email"]), "platform": platform, "email": c["email"], "name": c["name"],
             "platform_customer_id": c.get("platformId"), "source": c["source"], "order_count": 0,
             "total_spent": Decimal(0), "updated_at": now} for c in people
        ], keys=("platform", "email"), update_columns=["name", "platform_customer_id", "updated_at"])
        rows = [{
            "id": order_uuid(platform, order["externalId"]), "platform": platform,
            "external_id": order["externalId"], "order_number": order["orderNumber"],
            "customer_id": customer_uuid(platform, order["customer"]["email"]), "currency": order["currency"],
            "subtotal": order["subtotal"], "total": order["total"], "status": order["status"],
            "payment_status": order["paymentStatus"], "fulfillment_status": order["fulfillmentStatus"],
            "ordered_at": order["orderDate"], "content_hash": digest, "updated_at": now,
        } for order, digest in changed]
        upsert_rows(conn, orders, rows, keys=("platform", "external_id"))
        ids = [row["id"] for row in rows]
        for start in range(0, len(ids), 1000):
            conn.execute(delete(order_lines).where(order_lines.c.order_id.in_(ids[start:start + 1000])))
        insert_rows(conn, order_lines, [
            {"order_id": order_uuid(platform, order["externalId"]), "line_no": n, "sku": line["sku"],
             "quantity": line["quantity"], "unit_price": line["unitPrice"]}
            for order, _ in changed for n, line in enumerate(order["lineItems"], start=1)
        ])
        _refresh_customer_totals(conn, platform, [customer_uuid(platform, c["email"]) for c in people])
        result.customers = conn.execute(select(func.count()).select_from(customers)
                                        .where(customers.c.platform == platform)).scalar_one()
    result.preview = [{"order": o["orderNumber"], "email": o["customer"]["email"], "total": str(o["total"]),
                       "lines": len(o["lineItems"])} for o, _ in changed[:10]]
    return result


def _refresh_customer_totals(conn, platform: str, customer_ids: list[uuid.UUID]) -> None:
    if not customer_ids:
        return
    # Summed in Python: SQLite keeps amounts as exact text, and SUM() there would go through floats.
    totals: dict[uuid.UUID, list] = {}
    for customer_id, total in conn.execute(select(orders.c.customer_id, orders.c.total).where(
            orders.c.platform == platform, orders.c.customer_id.in_(customer_ids))):
        entry = totals.setdefault(customer_id, [0, Decimal(0)])
        entry[0] += 1
        entry[1] += total
    for customer_id, (count, spent) in totals.items():
        conn.execute(customers.update().where(customers.c.id == customer_id)
                     .values(order_count=count, total_spent=spent))

