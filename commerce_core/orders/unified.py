"""Shopline and Next Engine orders as unified orders; customers de-duplicated by email.

Shopline orders carry a customer with an id; Next Engine has no customer API, so
its customers are extracted from the orders' purchaser fields (the connector design,
extractCustomersFromOrders): one per e-mail address, lower-cased.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

JST = timezone(timedelta(hours=9))


class OrderRejected(ValueError):
    """An order record that cannot be read; the message names the field."""


def _decimal(value, field: str) -> Decimal:
    try:
        amount = Decimal(str(value))
    except ArithmeticError:
        raise OrderRejected(f"{field}: {value!r} is not a decimal") from None
    if not amount.is_finite() or amount < 0:
        raise OrderRejected(f"{field}: {value!r} is not a non-negative amount")
    return amount


def _email(value, field: str) -> str:
    if not isinstance(value, str) or "@" not in value:
        raise OrderRejected(f"{field}: {value!r} is not an e-mail address")
    return value.strip().lower()


def from_shopline(order: dict) -> dict:
    customer = order.get("customer") or {}
    lines = [{"sku": str(line.get("sku") or line.get("variant_id")), "quantity": int(line["quantity"]),
              "unitPrice": _decimal(line["price"], f"line_items[{n}].price")}
             for n, line in enumerate(order.get("line_items") or [])]
    payment = {"paid": "paid", "refunded": "refunded"}.get(order.get("financial_status"), "pending")
    try:
        ordered_at = datetime.fromisoformat(str(order["created_at"]).replace("Z", "+00:00")).astimezone(timezone.utc)
    except (KeyError, ValueError):
        raise OrderRejected(f"created_at: {order.get('created_at')!r} is not ISO-8601") from None
    return {
        "platform": "shopline",
        "externalId": str(order["id"]),
        "orderNumber": str(order.get("name") or order["id"]),
        "customer": {"email": _email(customer.get("email"), "customer.email"),
                     "name": " ".join(p for p in (customer.get("first_name"), customer.get("last_name")) if p) or "-",
                     "platformId": str(customer["id"]) if customer.get("id") else None, "source": "api"},
        "lineItems": lines,
        "currency": order.get("currency") or "TWD",
        "subtotal": sum((line["unitPrice"] * line["quantity"] for line in lines), Decimal(0)),
        "total": _decimal(order.get("total_price"), "total_price"),
        # Shopline marks a cancelled order by cancelled_at, whatever happened to the payment.
        "status": "cancelled" if order.get("cancelled_at") else {"paid": "processing", "refunded": "cancelled"}.get(
            payment, "pending"),
        "paymentStatus": payment,
        "fulfillmentStatus": "unfulfilled",
        "orderDate": ordered_at,
    }


def from_nextengine(order: dict) -> dict:
    lines = [{"sku": str(row["receive_order_row_goods_id"]), "quantity": int(row["receive_order_row_quantity"]),
              "unitPrice": _decimal(row["receive_order_row_unit_price"], f"receive_order_row[{n}].unit_price")}
             for n, row in enumerate(order.get("receive_order_row") or [])]
    try:
        ordered_at = datetime.strptime(order["receive_order_date"], "%Y-%m-%d %H:%M:%S").replace(tzinfo=JST)
    except (KeyError, ValueError):
        raise OrderRejected(f"receive_order_date: {order.get('receive_order_date')!r} is not "
                            "'YYYY-MM-DD hh:mm:ss'") from None
    return {
        "platform": "nextengine",
        "externalId": str(order["receive_order_id"]),
        "orderNumber": str(order["receive_order_id"]),
        "customer": {"email": _email(order.get("receive_order_purchaser_mail_address"), "purchaser_mail_address"),
                     "name": order.get("receive_order_purchaser_name") or "-", "platformId": None,
                     "source": "extracted"},
        "lineItems": lines,
        "currency": "JPY",
        "subtotal": sum((line["unitPrice"] * line["quantity"] for line in lines), Decimal(0)),
        "total": _decimal(order.get("receive_order_total_amount"), "receive_order_total_amount"),
        "status": "processing",
        "paymentStatus": "paid",
        "fulfillmentStatus": "unfulfilled",
        "orderDate": ordered_at.astimezone(timezone.utc),
    }


def customers_from_orders(orders: list[dict]) -> list[dict]:
    """One customer per e-mail (the connector design's UnifiedCustomer), with order count and total spent."""
    by_email: dict[str, dict] = {}
    for order in orders:
        customer = order["customer"]
        entry = by_email.setdefault(customer["email"], {**customer, "orderCount": 0, "totalSpent": Decimal(0),
                                                         "extractedFrom": []})
        entry["orderCount"] += 1
        entry["totalSpent"] += order["total"]
        entry["extractedFrom"].append(order["externalId"])
        if customer.get("platformId") and not entry.get("platformId"):
            entry["platformId"] = customer["platformId"]
    return list(by_email.values())
