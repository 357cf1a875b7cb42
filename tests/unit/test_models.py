"""stable_hash, content_hash and product_uuid."""

from __future__ import annotations

import uuid

from commerce_core.catalog.models import canonical_json, content_hash, product_uuid, stable_hash


def product(**overrides) -> dict:
    base = {
        "supplierId": "SERP",
        "externalId": "SERP-1",
        "name": "Temple Walk",
        "prices": [{"amount": "12900", "currency": "TWD", "priceType": "Base", "validFrom": None, "validTo": None}],
        "translations": {"en-US": {"name": "Temple Walk", "description": ""}},
        "sourceCreatedAt": "2025-01-01T00:00:00Z",
        "sourceUpdatedAt": "2026-02-07T02:00:00Z",
    }
    base.update(overrides)
    return base


def test_stable_hash_ignores_key_order_at_every_depth() -> None:
    a = {"a": 1, "b": {"x": [1, 2], "y": "z"}}
    b = {"b": {"y": "z", "x": [1, 2]}, "a": 1}
    assert stable_hash(a) == stable_hash(b)
    assert canonical_json(b) == b'{"a":1,"b":{"x":[1,2],"y":"z"}}'


def test_stable_hash_is_128_bit_hex_and_content_sensitive() -> None:
    digest = stable_hash({"a": 1})
    assert len(digest) == 32 and int(digest, 16) >= 0
    assert stable_hash({"a": 1}) == digest
    assert stable_hash({"a": 2}) != digest
    assert stable_hash({"a": [1, 2]}) != stable_hash({"a": [2, 1]}), "list order is content"
    assert stable_hash({"a": "1"}) != stable_hash({"a": 1})


def test_content_hash_ignores_key_order() -> None:
    p = product()
    reordered = dict(reversed(list(p.items())))
    assert list(reordered) != list(p)
    assert content_hash(reordered) == content_hash(p)


def test_content_hash_ignores_supplier_timestamps() -> None:
    base = content_hash(product())
    assert content_hash(product(sourceUpdatedAt="2030-01-01T00:00:00Z")) == base
    assert content_hash(product(sourceCreatedAt="2000-01-01T00:00:00Z")) == base
    assert content_hash(product(sourceUpdatedAt=None, sourceCreatedAt=None)) == base


def test_content_hash_sees_prices_and_text() -> None:
    base = content_hash(product())
    cheaper = product(prices=[{"amount": "12000", "currency": "TWD", "priceType": "Base",
                               "validFrom": None, "validTo": None}])
    assert content_hash(cheaper) != base
    assert content_hash(product(name="Temple Walk!")) != base
    assert content_hash(product(translations={})) != base


def test_content_hash_does_not_mutate_product() -> None:
    p = product()
    content_hash(p)
    assert "sourceUpdatedAt" in p and "sourceCreatedAt" in p


def test_product_uuid_is_deterministic_and_per_supplier() -> None:
    first = product_uuid("SERP", "SERP-1")
    assert isinstance(first, uuid.UUID) and first.version == 5
    assert product_uuid("SERP", "SERP-1") == first
    assert product_uuid("OTHER", "SERP-1") != first
    assert product_uuid("SERP", "SERP-2") != first
    assert str(first) == str(uuid.uuid5(uuid.UUID("6f1c3a52-9d0e-4c47-9a43-2b6c2f1e8a10"), "SERP:SERP-1"))
