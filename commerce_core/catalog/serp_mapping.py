"""SERP supplier records -> unified products (GlobalHub design: SerpProductMapper, docs/background.md),
with every rule named.

A record gets every violation listed, not only the first, so one reject row tells
the supplier all that is wrong with it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from commerce_core.catalog.models import PRICE_TYPES, PRODUCT_STATUSES, UnifiedProduct, parse_utc

SERP_SUPPLIER_ID = "SERP"

_CURRENCY = re.compile(r"^[A-Z]{3}$")
_LANGUAGE = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$")
_MAX_ID_LENGTH = 128
_MAX_NAME_LENGTH = 200


SERP_PRODUCT_TYPES = ("Tour", "Voucher", "Ticket", "Hotel", "Transport")


@dataclass(frozen=True)
class Violation:
    rule: str
    message: str


def validate_serp_record(record: object) -> list[Violation]:
    """All rule violations of one SerpProduct (docs/protocols/serp-supplier.md); empty when importable."""
    if not isinstance(record, dict):
        return [Violation("record_shape", f"record is {type(record).__name__}, not an object")]
    problems: list[Violation] = []
    add = problems.append

    external_id = record.get("id")
    if not isinstance(external_id, str) or not external_id.strip():
        add(Violation("id_required", "id is missing or empty"))
    elif len(external_id) > _MAX_ID_LENGTH:
        add(Violation("id_length", f"id is longer than {_MAX_ID_LENGTH} characters"))

    name = record.get("name")
    if not isinstance(name, str) or not name.strip():
        add(Violation("name_required", "name is missing or empty"))
    elif len(name) > _MAX_NAME_LENGTH:
        add(Violation("name_length", f"name has {len(name)} characters, at most {_MAX_NAME_LENGTH} allowed"))

    if record.get("status") not in PRODUCT_STATUSES:
        add(Violation("status_enum", f"status {record.get('status')!r} is not one of {', '.join(PRODUCT_STATUSES)}"))
    if record.get("productType") not in SERP_PRODUCT_TYPES:
        add(Violation("product_type_enum",
                      f"productType {record.get('productType')!r} is not one of {', '.join(SERP_PRODUCT_TYPES)}"))
    if not isinstance(record.get("isActive"), bool):
        add(Violation("is_active_type", "isActive must be true or false"))

    description = record.get("description", "")
    if description is not None and not isinstance(description, str):
        add(Violation("description_type", "description must be a string"))
    category = record.get("category", "")
    if category is not None and not isinstance(category, str):
        add(Violation("category_type", "category must be a string"))
    language = record.get("language")
    if not isinstance(language, str) or not _LANGUAGE.fullmatch(language):
        add(Violation("language_code", f"language {language!r} is not a language tag like zh-TW"))

    problems.extend(_price_violations(record.get("prices")))
    problems.extend(_image_violations(record.get("images", [])))
    problems.extend(_translation_violations(record.get("translations") or {}))

    seats = record.get("availableSeats")
    if seats is not None and (not isinstance(seats, int) or isinstance(seats, bool) or seats < 0):
        add(Violation("seats_range", f"availableSeats {seats!r} must be a whole number >= 0 or null"))
    for field in ("createdAt", "updatedAt"):
        if parse_utc(record.get(field)) is None:
            add(Violation("timestamp_format", f"{field} {record.get(field)!r} is not an ISO-8601 UTC time"))
    return problems


def _price_violations(prices: object) -> list[Violation]:
    if not isinstance(prices, list) or not prices:
        return [Violation("price_required", "at least one price is required")]
    problems = []
    for position, price in enumerate(prices):
        where = f"prices[{position}]"
        if not isinstance(price, dict):
            problems.append(Violation("price_shape", f"{where} is not an object"))
            continue
        try:
            amount = Decimal(str(price.get("amount")))
            if not amount.is_finite() or amount <= 0:
                problems.append(Violation("price_amount", f"{where}.amount {price.get('amount')!r} must be > 0"))
        except InvalidOperation:
            problems.append(Violation("price_amount", f"{where}.amount {price.get('amount')!r} is not a decimal"))
        currency = price.get("currency")
        if not isinstance(currency, str) or not _CURRENCY.fullmatch(currency):
            problems.append(Violation("price_currency", f"{where}.currency {currency!r} is not a 3-letter code"))
        if price.get("priceType") not in PRICE_TYPES:
            problems.append(Violation("price_type", f"{where}.priceType {price.get('priceType')!r} is not one of {', '.join(PRICE_TYPES)}"))
        for bound in ("validFrom", "validTo"):
            if price.get(bound) is not None and parse_utc(price.get(bound)) is None:
                problems.append(Violation("timestamp_format", f"{where}.{bound} {price.get(bound)!r} is not ISO-8601"))
    return problems


def _image_violations(images: object) -> list[Violation]:
    if not isinstance(images, list):
        return [Violation("image_shape", "images must be a list")]
    problems = []
    for position, image in enumerate(images):
        url = image.get("url") if isinstance(image, dict) else None
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            problems.append(Violation("image_url", f"images[{position}].url {url!r} is not an http(s) URL"))
        order = image.get("order") if isinstance(image, dict) else None
        if order is not None and (not isinstance(order, int) or isinstance(order, bool)):
            problems.append(Violation("image_order", f"images[{position}].order {order!r} is not a whole number"))
    return problems


def _translation_violations(translations: object) -> list[Violation]:
    if not isinstance(translations, dict):
        return [Violation("translation_shape", "translations must be an object keyed by language")]
    problems = []
    for language, text in translations.items():
        if not _LANGUAGE.fullmatch(language) or not isinstance(text, dict) or not isinstance(text.get("name"), str):
            problems.append(Violation("translation_shape", f"translations[{language!r}] needs a name and a description"))
    return problems


def _canonical_amount(value: object) -> str:
    return format(Decimal(str(value)).normalize(), "f")


def map_serp_record(record: dict) -> UnifiedProduct:
    """Map a record that passed validate_serp_record; the result is JSON-ready and canonical."""
    prices = [
        {
            "amount": _canonical_amount(p["amount"]),
            "currency": p["currency"],
            "priceType": p["priceType"],
            "validFrom": p.get("validFrom"),
            "validTo": p.get("validTo"),
        }
        for p in record["prices"]
    ]
    images = [
        {"url": image["url"], "isPrimary": bool(image.get("isPrimary")),
         "order": position if image.get("order") is None else image["order"]}
        for position, image in enumerate(record.get("images") or [])
    ]
    translations = {
        language: {"name": text["name"], "description": text.get("description") or ""}
        for language, text in sorted((record.get("translations") or {}).items())
    }
    return {
        "supplierId": SERP_SUPPLIER_ID,
        "externalId": record["id"],
        "name": record["name"].strip(),
        "description": record.get("description") or "",
        "language": record["language"],
        "translations": translations,
        "productType": record["productType"],
        "category": (record.get("category") or "").strip(),
        "prices": prices,
        "images": sorted(images, key=lambda image: image["order"]),
        "availableSeats": record.get("availableSeats"),
        "status": record["status"],
        "isActive": record["isActive"],
        "sourceCreatedAt": record.get("createdAt"),
        "sourceUpdatedAt": record.get("updatedAt"),
    }
