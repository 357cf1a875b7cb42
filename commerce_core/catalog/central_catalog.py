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
from functools import partial

import msgspec
from sqlalchemy import Engine, Row, and_, or_, select

from commerce_core.bulk_work import fewer_gc_passes, run_chunks
from commerce_core.catalog.pending import KeyRange, in_range, pending_ranges, read_pending
from commerce_core.catalog.supplier_staging import DELETED_HASH
from commerce_core.db.cursors import utcnow
from commerce_core.db.bulk import (
    bulk_transaction,
    delete_where_in,
    insert_rows,
    refresh_statistics,
    rows_under_parents_written_here,
    save_rows,
    update_rows,
)
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
_KEEP_ON_UPDATE = ("created_at", "created_by")
PREVIEW = 10


@dataclass
class CatalogWriteResult:
    processed: int = 0
    inserted: int = 0
    updated: int = 0
    archived: int = 0
    preview: list[dict] = field(default_factory=list, repr=False)  # for metadata, not for progress lines

    def add(self, part: CatalogWriteResult) -> None:
        self.processed += part.processed
        self.inserted += part.inserted
        self.updated += part.updated
        self.archived += part.archived
        self.preview += part.preview[: PREVIEW - len(self.preview)]


def pending_changes(supplier_id: str, key_range: KeyRange | None = None):
    enriched, validated = enriched_products, validated_products
    return select(
        enriched.c.external_id, validated.c.product, enriched.c.enrichment, enriched.c.content_hash,
        enriched.c.outcome, products.c.id.label("existing_id"), products.c.archived_at,
    ).select_from(
        enriched.join(
            validated,
            and_(validated.c.supplier_id == enriched.c.supplier_id, validated.c.external_id == enriched.c.external_id,
                 in_range(validated.c.external_id, key_range)),
        ).outerjoin(
            products,
            and_(products.c.supplier_id == enriched.c.supplier_id,
                 products.c.external_product_id == enriched.c.external_id,
                 in_range(products.c.external_product_id, key_range)),
        )
    ).where(
        enriched.c.supplier_id == supplier_id,
        in_range(enriched.c.external_id, key_range),
        or_(products.c.id.is_(None), products.c.content_hash != enriched.c.content_hash),
        # Nothing to archive for a product the catalog never held.
        or_(enriched.c.outcome != "deleted", products.c.id.is_not(None)),
        # An enrichment waits until it was built from the product validated now.
        or_(enriched.c.outcome != "enriched", enriched.c.source_hash == validated.c.content_hash),
    )


class _Price(msgspec.Struct):
    amount: str  # canonical decimal text: NUMERIC takes it as it is
    currency: str
    priceType: str
    validFrom: str | None = None
    validTo: str | None = None


class _Image(msgspec.Struct):
    url: str
    isPrimary: bool
    order: int


class _ValidatedProduct(msgspec.Struct):
    """The fields of a validated product (UnifiedProduct) the catalog writes; the rest is skipped unparsed."""

    supplierId: str
    externalId: str
    name: str
    description: str
    language: str
    productType: str
    category: str
    status: str
    isActive: bool
    prices: list[_Price]
    images: list[_Image]
    availableSeats: int | None = None
    sourceUpdatedAt: str | None = None


class _CatalogTranslation(msgspec.Struct):
    name: str
    description: str
    source: str


class _Enrichment(msgspec.Struct):
    enrichedDescription: str | None = None
    tags: list[str] = []
    catalogTranslations: dict[str, _CatalogTranslation] = {}
    missingLanguages: list[str] = []


# Typed decoders: no dict per JSON object, and fields the catalog does not write are skipped.
_decode_product = msgspec.json.Decoder(_ValidatedProduct).decode
_decode_enrichment = msgspec.json.Decoder(_Enrichment).decode

# Rows are tuples in these column orders (a dict per row cost more than building the row).
PRODUCT_COLUMNS = (
    "id", "supplier_id", "external_product_id", "name", "description", "enriched_description", "language",
    "product_type", "category", "available_seats", "status", "is_active", "tags", "missing_languages",
    "content_hash", "source_updated_at", "created_at", "updated_at", "archived_at", "created_by", "updated_by",
)
TRANSLATION_COLUMNS = ("product_id", "language_code", "name", "description", "short_description", "source")
PRICE_COLUMNS = ("product_id", "position", "amount", "currency", "price_type", "valid_from", "valid_to")
IMAGE_COLUMNS = ("product_id", "position", "url", "is_primary", "sort_order")
# On a change the original creation stays.
_UPDATE_COLUMNS = [c for c in PRODUCT_COLUMNS if c not in ("id", *_KEEP_ON_UPDATE)]


def _product_row(product_id: uuid.UUID, product: _ValidatedProduct, enrichment: _Enrichment, digest: str,
                 now: datetime, actor: str) -> tuple:
    return (
        product_id, product.supplierId, product.externalId, product.name, product.description,
        enrichment.enrichedDescription, product.language, product.productType, product.category,
        product.availableSeats, product.status, product.isActive, enrichment.tags, enrichment.missingLanguages,
        digest, parse_utc(product.sourceUpdatedAt), now, now, None, actor, actor,
    )


def _add_children(out: _CatalogBatch, product_id: uuid.UUID, product: _ValidatedProduct,
                  enrichment: _Enrichment) -> None:
    out.translations += [
        (product_id, language, text.name[:200], text.description,
         text.description[:SHORT_DESCRIPTION_LENGTH] or None, text.source)
        for language, text in enrichment.catalogTranslations.items()
    ]
    out.prices += [
        (product_id, position, price.amount, price.currency, price.priceType, parse_utc(price.validFrom),
         parse_utc(price.validTo))
        for position, price in enumerate(product.prices)
    ]
    # The validated product lists its images in sort order.
    out.images += [(product_id, position, image.url, image.isPrimary, image.order)
                   for position, image in enumerate(product.images)]


@fewer_gc_passes()
def write_pending(engine: Engine, supplier_id: str, *, actor: str, batch_size: int = 10_000, workers: int = 1,
                  progress: Callable[[CatalogWriteResult], None] | None = None) -> CatalogWriteResult:
    """Write every pending product, a transaction per batch; on PostgreSQL in `workers` processes."""
    result = CatalogWriteResult()
    chunks = pending_ranges(engine, pending_changes(supplier_id), enriched_products.c.external_id, batch_size,
                            stage_table=products, supplier_id=supplier_id, workers=workers)
    for part in run_chunks(engine, partial(_write_chunk, supplier_id, actor), chunks, workers=workers):
        result.add(part)
        if progress:
            progress(result)
    if result.processed:
        with engine.begin() as conn:
            refresh_statistics(conn, products, product_translations, product_prices, product_images)
    return result


def _write_chunk(supplier_id: str, actor: str, engine: Engine, key_range: KeyRange) -> CatalogWriteResult:
    batch = read_pending(engine, pending_changes(supplier_id, key_range), enriched_products.c.external_id)
    part = CatalogWriteResult()
    if not batch:  # nothing in this range changed
        return part
    _write_batch(engine, _catalog_batch(supplier_id, actor, batch, part))
    return part


@dataclass
class _CatalogBatch:
    upserts: list[tuple] = field(default_factory=list)  # PRODUCT_COLUMNS
    is_new: list[bool] = field(default_factory=list)
    changed_ids: list[uuid.UUID] = field(default_factory=list)
    archives: list[dict] = field(default_factory=list)
    translations: list[tuple] = field(default_factory=list)  # TRANSLATION_COLUMNS
    prices: list[tuple] = field(default_factory=list)  # PRICE_COLUMNS
    images: list[tuple] = field(default_factory=list)  # IMAGE_COLUMNS


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
        product, enrichment = _decode_product(row.product), _decode_enrichment(row.enrichment)
        product_id = row.existing_id or product_uuid(supplier_id, row.external_id)
        out.upserts.append(_product_row(product_id, product, enrichment, row.content_hash, now, actor))
        out.is_new.append(row.existing_id is None)
        if row.existing_id is None:
            result.inserted += 1
        else:
            result.updated += 1
            out.changed_ids.append(product_id)
        _add_children(out, product_id, product, enrichment)
        if len(result.preview) < PREVIEW:
            result.preview.append(dict(zip(PRODUCT_COLUMNS, out.upserts[-1])))
    result.archived += len(out.archives)
    return out


def _write_batch(engine: Engine, batch: _CatalogBatch) -> None:
    with bulk_transaction(engine) as conn:
        save_rows(conn, products, batch.upserts, keys=("id",), update_columns=_UPDATE_COLUMNS,
                  is_new=batch.is_new, columns=PRODUCT_COLUMNS)
        for child in (product_translations, product_prices, product_images):
            delete_where_in(conn, child, "product_id", batch.changed_ids)
        # Children only of the products just saved (_catalog_batch builds them together).
        with rows_under_parents_written_here(conn):
            insert_rows(conn, product_translations, batch.translations, columns=TRANSLATION_COLUMNS)
            insert_rows(conn, product_prices, batch.prices, columns=PRICE_COLUMNS)
            insert_rows(conn, product_images, batch.images, columns=IMAGE_COLUMNS)
        update_rows(conn, products, batch.archives, keys=("id",))
