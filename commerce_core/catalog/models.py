"""The unified product model every source maps into (docs/background.md: the GlobalHub design's Product,
the connector design's UnifiedProduct).

Plain JSON-shaped dicts described by TypedDicts: they are what the pipeline tables
store, and a 100,000-product import moves them without per-object overhead.
Amounts are canonical decimal strings; timestamps are ISO-8601 UTC strings.
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import datetime
from typing import NamedTuple, TypedDict

import orjson

CATALOG_LANGUAGES = ("en-US", "zh-TW", "ja-JP")
# Travel products (SERP) and merchandise from commerce platforms (Next Engine, Shopline).
PRODUCT_TYPES = ("Tour", "Voucher", "Ticket", "Hotel", "Transport", "Goods")
PRODUCT_STATUSES = ("Draft", "Published", "Archived")
PRICE_TYPES = ("Base", "Sale", "Member")

# Deterministic product ids: the same (supplier, external id) is the same row everywhere.
PRODUCT_ID_NAMESPACE = uuid.UUID("6f1c3a52-9d0e-4c47-9a43-2b6c2f1e8a10")


class RawRecord(NamedTuple):
    """A supplier record exactly as it was sent (its JSON bytes) and the two fields staging reads.

    Hashing the bytes as sent spares parsing and re-serialising every record of
    a listing just to learn it did not change."""

    payload: bytes
    external_id: object
    updated_at: object


class Price(TypedDict):
    amount: str
    currency: str
    priceType: str
    validFrom: str | None
    validTo: str | None


class Image(TypedDict):
    url: str
    isPrimary: bool
    order: int


class Translation(TypedDict):
    name: str
    description: str


class UnifiedProduct(TypedDict):
    supplierId: str
    externalId: str
    name: str
    description: str
    language: str
    translations: dict[str, Translation]
    productType: str
    category: str
    prices: list[Price]
    images: list[Image]
    availableSeats: int | None
    status: str
    isActive: bool
    sourceCreatedAt: str | None
    sourceUpdatedAt: str | None


class CatalogTranslation(TypedDict):
    name: str
    description: str
    source: str  # original | supplier | llm


class EnrichedProduct(UnifiedProduct):
    enrichedDescription: str | None
    tags: list[str]
    catalogTranslations: dict[str, CatalogTranslation]
    missingLanguages: list[str]


def parse_utc(value: object) -> datetime | None:
    """An ISO-8601 time with an offset (or Z) as an aware datetime; None for anything else."""
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


def product_uuid(supplier_id: str, external_id: str) -> uuid.UUID:
    return uuid.uuid5(PRODUCT_ID_NAMESPACE, f"{supplier_id}:{external_id}")


def hash_bytes(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def canonical_json(value: object) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)


def stable_hash(value: object) -> str:
    """128-bit hash of a JSON value with sorted keys: equal content, equal hash."""
    return hash_bytes(canonical_json(value))


def content_hash(product: dict) -> str:
    """Hash of what a product says, leaving out supplier timestamps that move without content."""
    return stable_hash({k: v for k, v in product.items() if k not in ("sourceUpdatedAt", "sourceCreatedAt")})
