"""Next Engine goods (api_v1_master_goods/search) as unified products (the connector design, docs/background.md).

Next Engine sends every value as a string; a record is checked before mapping
and each broken rule becomes a reject with the record id, like SERP's.
Goods are merchandise priced in yen; their stock is the free stock Next Engine
reports (the stock service's ledger takes over once it keeps the SKU).
"""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal, InvalidOperation

from commerce_core.catalog.models import UnifiedProduct
from commerce_core.catalog.serp_mapping import Violation
from commerce_core.connectors.nextengine import JST

NEXTENGINE_SUPPLIER_ID = "NEXTENGINE"


def _utc_iso(value: object) -> str | None:
    """Next Engine's 'YYYY-MM-DD hh:mm:ss' (Japan time) as ISO-8601 UTC."""
    try:
        moment = datetime.strptime(str(value), "%Y-%m-%d %H:%M:%S").replace(tzinfo=JST)
    except ValueError:
        return None
    return moment.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def goods_modified_at(record: dict) -> datetime | None:
    """When the goods record last changed (goods_last_modified_date), as an aware UTC datetime."""
    try:
        return datetime.strptime(str(record.get("goods_last_modified_date")), "%Y-%m-%d %H:%M:%S").replace(
            tzinfo=JST).astimezone(timezone.utc)
    except ValueError:
        return None


def validate_goods(record: object) -> list[Violation]:
    if not isinstance(record, dict):
        return [Violation("record_type", "a goods record must be a JSON object")]
    problems = []
    if not isinstance(record.get("goods_id"), str) or not record["goods_id"].strip():
        problems.append(Violation("goods_id_required", "goods_id must be a non-empty string"))
    if not isinstance(record.get("goods_name"), str) or not record["goods_name"].strip():
        problems.append(Violation("goods_name_required", "goods_name must be a non-empty string"))
    try:
        price = Decimal(str(record.get("goods_selling_price")))
        if not price.is_finite() or price < 0:
            raise InvalidOperation
    except InvalidOperation:
        problems.append(Violation("price_amount", f"goods_selling_price {record.get('goods_selling_price')!r} "
                                                  "is not a non-negative decimal"))
    stock = record.get("stock_quantity")
    if stock not in (None, "") and not (isinstance(stock, str) and stock.isdigit()):
        problems.append(Violation("stock_quantity", f"stock_quantity {stock!r} is not a non-negative integer"))
    return problems


def map_goods(record: dict) -> UnifiedProduct:
    stock = record.get("stock_quantity")
    return {
        "supplierId": NEXTENGINE_SUPPLIER_ID,
        "externalId": record["goods_id"].strip(),
        "name": record["goods_name"].strip(),
        # The goods API has no description; sites need one, so the name stands in.
        "description": record["goods_name"].strip(),
        "language": "ja-JP",
        "translations": {},
        "productType": "Goods",
        "category": "",
        "prices": [{"amount": format(Decimal(str(record["goods_selling_price"])).normalize(), "f"),
                    "currency": "JPY", "priceType": "Base", "validFrom": None, "validTo": None}],
        "images": [],
        "availableSeats": int(stock) if isinstance(stock, str) and stock.isdigit() else None,
        "status": "Published",
        "isActive": True,
        "sourceCreatedAt": None,
        "sourceUpdatedAt": _utc_iso(record.get("goods_last_modified_date")),
    }
