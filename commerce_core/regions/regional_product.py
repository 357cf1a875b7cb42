"""A central product as one region's RegionProductDto (docs/protocols/region-productsapi.md).

Only the region's languages and currencies go out. A language the product has
no text for falls back to the region's default language, then to the product's
own language, and is counted as untranslated. A currency the product has no
price in is converted from the first price of the same price type with the
configured FX rates (the first price of that type with a known rate) and
rounded to the currency's minor unit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from commerce_core.catalog.storefront_text import plain_text
from commerce_core.regions.central_products import CentralProduct
from commerce_core.regions.config import RegionConfig
from commerce_core.regions.fx import FxRates, format_amount

SOURCE_SYSTEM = "GlobalHub"


def iso_utc(value: datetime) -> str:
    """ISO-8601 in UTC with Z (`value` is an aware UTC datetime, as the schema returns them)."""
    return value.isoformat().replace("+00:00", "Z")


@dataclass(frozen=True)
class RegionalProduct:
    dto: dict
    untranslated: tuple[str, ...]  # region languages filled by fallback


def regional_status(product: CentralProduct) -> str:
    return "Archived" if product.archived or not product.is_active else product.status


def to_regional_product(product: CentralProduct, region: RegionConfig, fx: FxRates, synced_at: str) -> RegionalProduct:
    texts, untranslated = _texts(product, region)
    return RegionalProduct(
        dto={
            "globalHubProductId": str(product.id),
            "externalProductId": product.external_id,
            "supplierId": product.supplier_id,
            "supplierCode": product.supplier_id,
            # Plain text in every field (storefront_text): the catalog holds it so already; plain_text
            # costs nothing on such text and keeps any row written before that rule from going out as it was.
            "name": {language: plain_text(text["name"]) for language, text in texts.items()},
            "description": {language: plain_text(text["description"]) for language, text in texts.items()},
            "category": plain_text(product.category),
            "productType": product.product_type,
            "prices": _prices(product, region, fx),
            "images": product.images,
            "availableSeats": product.available_seats,
            "status": regional_status(product),
            "createdAt": iso_utc(product.created_at),
            "updatedAt": iso_utc(product.updated_at),
            "metadata": {"SourceSystem": SOURCE_SYSTEM, "OriginalSupplier": product.supplier_id, "SyncedAt": synced_at},
        },
        untranslated=tuple(untranslated),
    )


def _texts(product: CentralProduct, region: RegionConfig) -> tuple[dict[str, dict], list[str]]:
    own = product.translations.get(product.language) or {"name": product.name, "description": product.description}
    fallback = product.translations.get(region.default_language) or own
    texts, untranslated = {}, []
    for language in region.languages:
        text = product.translations.get(language)
        if text is None:
            untranslated.append(language)
            text = fallback
        texts[language] = text
    return texts, untranslated


def _prices(product: CentralProduct, region: RegionConfig, fx: FxRates) -> list[dict]:
    by_type: dict[str, list[dict]] = {}
    for price in product.prices:
        by_type.setdefault(price["priceType"], []).append(price)
    out = []
    for price_type, prices in by_type.items():
        given = {price["currency"]: price["amount"] for price in prices}
        # Convert from the first price whose currency has a rate (a price in an unknown currency is skipped).
        base = next((price for price in prices if price["currency"] in fx.per_twd), prices[0])
        for currency in region.currencies:
            amount = given.get(currency)
            if amount is None:
                amount = fx.convert(base["amount"], base["currency"], currency)
            out.append({"amount": format_amount(amount, currency), "currency": currency, "priceType": price_type})
    return out
