"""Shopline product nodes (GraphQL) as unified products (the connector design, docs/background.md)."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from commerce_core.catalog.models import UnifiedProduct
from commerce_core.catalog.serp_mapping import Violation
from commerce_core.connectors.converters import from_gid

SHOPLINE_SUPPLIER_ID = "SHOPLINE"
STORE_CURRENCY = "TWD"
STORE_LANGUAGE = "zh-TW"
_STATUSES = {"ACTIVE": "Published", "DRAFT": "Draft", "ARCHIVED": "Archived"}


def product_key(node: dict) -> str:
    """The plain id the unified model keeps (the node's GID converted)."""
    return from_gid(node["id"], "Product")


def variant_nodes(node: dict) -> list[dict]:
    """The product node's variant nodes (GraphQL `variants.edges[].node`); a malformed one reads as `{}`."""
    edges = (node.get("variants") or {}).get("edges") or []
    return [edge.get("node") if isinstance(edge.get("node"), dict) else {} for edge in edges if isinstance(edge, dict)]


def validate_product_node(node: object) -> list[Violation]:
    if not isinstance(node, dict):
        return [Violation("record_type", "a product node must be a JSON object")]
    problems = []
    try:
        product_key(node)
    except (KeyError, ValueError):
        problems.append(Violation("id_gid", f"id {node.get('id')!r} is not a Shopline Product GID"))
    if not isinstance(node.get("title"), str) or not node["title"].strip():
        problems.append(Violation("title_required", "title must be a non-empty string"))
    if node.get("status") not in _STATUSES:
        problems.append(Violation("status_enum", f"status {node.get('status')!r} is not one of {', '.join(_STATUSES)}"))
    variants = variant_nodes(node)
    if not variants:
        problems.append(Violation("variants_required", "a product needs at least one variant with a price"))
    for position, variant in enumerate(variants):
        try:
            price = Decimal(str(variant.get("price")))
            if not price.is_finite() or price < 0:
                raise InvalidOperation
        except InvalidOperation:
            problems.append(Violation("price_amount", f"variants[{position}].price {variant.get('price')!r} "
                                                      "is not a non-negative decimal"))
    return problems


def map_product_node(node: dict) -> UnifiedProduct:
    variants = variant_nodes(node)
    lowest = min(Decimal(str(v["price"])) for v in variants)
    stock = [v.get("inventoryQuantity") for v in variants]
    title = node["title"].strip()
    return {
        "supplierId": SHOPLINE_SUPPLIER_ID,
        "externalId": product_key(node),
        "name": title,
        "description": node.get("descriptionHtml") or title,
        "language": STORE_LANGUAGE,
        "translations": {},
        "productType": "Goods",
        "category": "",
        "prices": [{"amount": format(lowest.normalize(), "f"), "currency": STORE_CURRENCY, "priceType": "Base",
                    "validFrom": None, "validTo": None}],
        "images": [],
        "availableSeats": sum(q for q in stock if isinstance(q, int)) if any(isinstance(q, int) for q in stock)
        else None,
        "status": _STATUSES[node["status"]],
        "isActive": node["status"] == "ACTIVE",
        "sourceCreatedAt": None,
        "sourceUpdatedAt": node.get("updatedAt"),
    }
