"""The central catalog (asset central_catalog): bulk upsert keyed by (supplier, external id).

Only a product whose content hash changed is written, so `updated_at` moves only
on a real change and a rerun leaves every row as it was. Products the supplier
deleted are archived, never dropped.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from functools import partial

import orjson
from sqlalchemy import Engine, Row, and_, or_, select

from commerce_core.bulk_work import fewer_gc_passes, run_chunks
from commerce_core.catalog.pending import KeyRange, pending_ranges, read_pending
from commerce_core.catalog.supplier_staging import DELETED_HASH
from commerce_core.db.cursors import utcnow
from commerce_core.db.bulk import bulk_transaction, delete_where_in, insert_rows, refresh_statistics, save_rows, update_rows
from commerce_core.db.schema import (
    enriched_products,
    product_images,
    product_prices,
    product_translations,
    products,
    validated_products,
)
from commerce_core.catalog.models import parse_utc, product_uuid

SHORT_DESCRIPTION_LENGTH = 120
# On a change the original creation stays.
_KEEP_ON_UPDATE = ("created_at", "created_by")
PREVIEW = 10


@dataclass
class CatalogWriteResult:
    processed: int = 0
    inserted: int = 0
    updated: int = 0
    archived: int = 0
    preview: list[dict] = field(default_factory=list)

    def add(self, part: CatalogWriteResult) -> None:
        self.processed += part.processed
        self.inserted += part.inserted
        self.updated += part.updated
        self.archived += part.archived
        self.preview += part.preview[: PREVIEW - len(self.preview)]


def pending_changes(supplier_id: str):
    enriched, validated = enriched_products, validated_products
    return select(
        enriched.c.external_id, validated.c.product, enriched.c.enrichment, enriched.c.content_hash,
        enriched.c.outcome, products.c.id.label("existing_id"), products.c.archived_at,
    ).select_from(
        enriched.join(
            validated,
            and_(validated.c.supplier_id == enriched.c.supplier_id, validated.c.external_id == enriched.c.external_id),
        ).outerjoin(
            products,
            and_(products.c.supplier_id == enriched.c.supplier_id,
                 products.c.external_product_id == enriched.c.external_id),
        )
    ).where(
        enriched.c.supplier_id == supplier_id,
        or_(products.c.id.is_(None), products.c.content_hash != enriched.c.content_hash),
        # Nothing to archive for a product the catalog never held.
        or_(enriched.c.outcome != "deleted", products.c.id.is_not(None)),
        # An enrichment waits until it was built from the product validated now.
        or_(enriched.c.outcome != "enriched", enriched.c.source_hash == validated.c.content_hash),
    )


def _product_row(product_id: uuid.UUID, product: dict, digest: str, now: datetime, actor: str) -> dict:
    return {
        "id": product_id,
        "supplier_id": product["supplierId"],
        "external_product_id": product["externalId"],
        "name": product["name"],
        "description": product["description"],
        "enriched_description": product.get("enrichedDescription"),
        "language": product["language"],
        "product_type": product["productType"],
        "category": product["category"],
        "available_seats": product["availableSeats"],
        "status": product["status"],
        "is_active": product["isActive"],
        "tags": product.get("tags") or [],
        "missing_languages": product.get("missingLanguages") or [],
        "content_hash": digest,
        "source_updated_at": parse_utc(product.get("sourceUpdatedAt")),
        "created_at": now,
        "updated_at": now,
        "archived_at": None,
        "created_by": actor,
        "updated_by": actor,
    }


def _children(product_id: uuid.UUID, product: dict) -> tuple[list, list, list]:
    translations = [
        {"product_id": product_id, "language_code": language, "name": text["name"][:200],
         "description": text["description"], "short_description": text["description"][:SHORT_DESCRIPTION_LENGTH] or None,
         "source": text["source"]}
        for language, text in (product.get("catalogTranslations") or {}).items()
    ]
    prices = [
        {"product_id": product_id, "amount": Decimal(price["amount"]), "currency": price["currency"],
         "price_type": price["priceType"], "valid_from": parse_utc(price.get("validFrom")),
         "valid_to": parse_utc(price.get("validTo"))}
        for price in product["prices"]
    ]
    images = [
        {"product_id": product_id, "url": image["url"], "is_primary": image["isPrimary"], "sort_order": image["order"]}
        for image in product["images"]
    ]
    return translations, prices, images


@fewer_gc_passes()
def write_pending(engine: Engine, supplier_id: str, *, actor: str, batch_size: int = 10_000, workers: int = 1,
                  progress: Callable[[CatalogWriteResult], None] | None = None) -> CatalogWriteResult:
    """Write every pending product, a transaction per batch; on PostgreSQL in `workers` processes."""
    result = CatalogWriteResult()
    chunks = pending_ranges(engine, pending_changes(supplier_id), enriched_products.c.external_id, batch_size)
    for part in run_chunks(engine, partial(_write_chunk, supplier_id, actor), chunks, workers=workers):
        result.add(part)
        if progress:
            progress(result)
    if result.processed:
        with engine.begin() as conn:
            refresh_statistics(conn, products, product_translations, product_prices, product_images)
    return result


def _write_chunk(supplier_id: str, actor: str, engine: Engine, key_range: KeyRange) -> CatalogWriteResult:
    batch = read_pending(engine, pending_changes(supplier_id), enriched_products.c.external_id, key_range)
    part = CatalogWriteResult()
    _write_batch(engine, _catalog_batch(supplier_id, actor, batch, part))
    return part


@dataclass
class _CatalogBatch:
    upserts: list[dict] = field(default_factory=list)
    changed_ids: list[uuid.UUID] = field(default_factory=list)
    archives: list[dict] = field(default_factory=list)
    translations: list[dict] = field(default_factory=list)
    prices: list[dict] = field(default_factory=list)
    images: list[dict] = field(default_factory=list)


def _catalog_batch(supplier_id: str, actor: str, batch: list[Row], result: CatalogWriteResult) -> _CatalogBatch:
    now = utcnow()
    out = _CatalogBatch()
    for row in batch:
        result.processed += 1
        if row.outcome == "deleted":
            out.archives.append({"id": row.existing_id, "status": "Archived", "is_active": False,
                                 "archived_at": now, "updated_at": now, "updated_by": actor,
                                 "content_hash": DELETED_HASH})
            continue
        product = {**orjson.loads(row.product), **orjson.loads(row.enrichment)}
        product_id = row.existing_id or product_uuid(supplier_id, row.external_id)
        out.upserts.append(_product_row(product_id, product, row.content_hash, now, actor))
        if row.existing_id is None:
            result.inserted += 1
        else:
            result.updated += 1
            out.changed_ids.append(product_id)
        translations, prices, images = _children(product_id, product)
        out.translations += translations
        out.prices += prices
        out.images += images
        if len(result.preview) < PREVIEW:
            result.preview.append(out.upserts[-1])
    result.archived += len(out.archives)
    return out


def _write_batch(engine: Engine, batch: _CatalogBatch) -> None:
    changed = set(batch.changed_ids)
    with bulk_transaction(engine) as conn:
        update_columns = [c for c in (batch.upserts[0] if batch.upserts else {}) if c not in ("id", *_KEEP_ON_UPDATE)]
        save_rows(conn, products, batch.upserts, keys=("id",), update_columns=update_columns,
                  is_new=[row["id"] not in changed for row in batch.upserts])
        for child in (product_translations, product_prices, product_images):
            delete_where_in(conn, child, "product_id", batch.changed_ids)
        insert_rows(conn, product_translations, batch.translations)
        insert_rows(conn, product_prices, batch.prices)
        insert_rows(conn, product_images, batch.images)
        update_rows(conn, products, batch.archives, keys=("id",))
