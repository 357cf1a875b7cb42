"""The central products a region has to receive, read a chunk at a time.

A product is due for a region when it changed since the region's cursor and
the region does not hold this version yet (its delivered content hash differs).
Seats come from the stock service's ledger when it keeps the product's SKU (the
external product id), else from the supplier.
Published, active products are due; so is any later state of a product the
region already holds (unpublished or archived), so a region never keeps
selling what the catalog withdrew.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, String, and_, cast, or_, select, tuple_

from commerce_core.catalog.storefront_text import clean_description
from commerce_core.db.lookup import in_uuid_texts
from commerce_core.db.schema import (
    product_images,
    product_prices,
    product_translations,
    products,
    region_deliveries,
    stock_levels,
)


@dataclass
class CentralProduct:
    id: uuid.UUID
    supplier_id: str
    external_id: str
    name: str
    description: str
    language: str
    category: str
    product_type: str
    available_seats: int | None
    status: str
    is_active: bool
    archived: bool
    content_hash: str
    first_delivery: bool  # the region never received this product
    created_at: datetime
    updated_at: datetime
    translations: dict[str, dict]
    prices: list[dict]
    images: list[dict]


def _due(region_code: str, since: datetime | None, ids: list[uuid.UUID] | None, resend_all: bool):
    delivered = region_deliveries
    query = select(
        products.c.id, cast(products.c.id, String).label("id_text"), products.c.supplier_id, products.c.external_product_id, products.c.name,
        products.c.description, products.c.enriched_description, products.c.language, products.c.category,
        products.c.product_type, products.c.available_seats, products.c.status, products.c.is_active,
        products.c.archived_at, products.c.content_hash, products.c.created_at, products.c.updated_at,
        delivered.c.product_id.is_(None).label("first_delivery"),
        stock_levels.c.on_hand, stock_levels.c.reserved, stock_levels.c.unlimited,
    ).select_from(
        products.outerjoin(
            delivered, and_(delivered.c.region_code == region_code, delivered.c.product_id == products.c.id)
        ).outerjoin(stock_levels, stock_levels.c.sku == products.c.external_product_id)
    ).where(
        or_(and_(products.c.is_active, products.c.status == "Published"), delivered.c.product_id.is_not(None))
    )
    if not resend_all:
        query = query.where(or_(delivered.c.product_id.is_(None), delivered.c.content_hash != products.c.content_hash))
    if since is not None:
        query = query.where(products.c.updated_at > since)
    if ids is not None:
        query = query.where(products.c.id.in_(ids))
    return query.order_by(products.c.updated_at, products.c.id)


def iter_due_products(engine: Engine, region_code: str, *, since: datetime | None = None,
                      ids: list[uuid.UUID] | None = None, resend_all: bool = False,
                      chunk_size: int = 5000) -> Iterator[list[CentralProduct]]:
    """Due products in (updated_at, id) order, `chunk_size` at a time (keyset paging: no OFFSET)."""
    query = _due(region_code, since, ids, resend_all)
    after: tuple | None = None
    while True:
        page = query if after is None else query.where(tuple_(products.c.updated_at, products.c.id) > after)
        with engine.connect() as conn:
            rows = conn.execute(page.limit(chunk_size)).mappings().all()
            if not rows:
                return
            chunk = _with_children(conn, rows)
        yield chunk
        after = (rows[-1]["updated_at"], rows[-1]["id"])


def _seats(row) -> int | None:
    """The stock service's availability when it keeps the product's SKU, else the supplier's seats."""
    if row["on_hand"] is None:
        return row["available_seats"]
    return None if row["unlimited"] else max(0, row["on_hand"] - row["reserved"])


def _with_children(conn, rows) -> list[CentralProduct]:
    keys = [row["id_text"] for row in rows]
    # Children are grouped by the id as text: building a UUID object for each of
    # hundreds of thousands of child rows cost more than the queries themselves.
    translations: dict[str, dict] = {}
    prices: dict[str, list] = {}
    images: dict[str, list] = {}
    t, p, i = product_translations.c, product_prices.c, product_images.c
    for key, language, name, description in conn.execute(
            select(cast(t.product_id, String), t.language_code, t.name, t.description)
            .where(in_uuid_texts(conn, t.product_id, keys))).all():
        translations.setdefault(key, {})[language] = {"name": name, "description": description}
    for key, amount, currency, price_type in conn.execute(
            select(cast(p.product_id, String), p.amount, p.currency, p.price_type)
            .where(in_uuid_texts(conn, p.product_id, keys)).order_by(p.product_id, p.position)).all():
        prices.setdefault(key, []).append({"amount": amount, "currency": currency, "priceType": price_type})
    for key, url, is_primary, order in conn.execute(
            select(cast(i.product_id, String), i.url, i.is_primary, i.sort_order)
            .where(in_uuid_texts(conn, i.product_id, keys)).order_by(i.product_id, i.sort_order)).all():
        images.setdefault(key, []).append({"url": url, "isPrimary": is_primary, "order": order})
    return [
        CentralProduct(
            id=row["id"], supplier_id=row["supplier_id"], external_id=row["external_product_id"], name=row["name"],
            # Regions get plain text (storefront_text): the enriched text, or the product's own converted.
            description=row["enriched_description"] or clean_description(row["description"]), language=row["language"],
            category=row["category"], product_type=row["product_type"], available_seats=_seats(row),
            status=row["status"], is_active=row["is_active"], archived=row["archived_at"] is not None,
            content_hash=row["content_hash"], first_delivery=bool(row["first_delivery"]),
            created_at=row["created_at"], updated_at=row["updated_at"],
            translations=translations.get(row["id_text"], {}), prices=prices.get(row["id_text"], []),
            images=images.get(row["id_text"], []),
        )
        for row in rows
    ]
