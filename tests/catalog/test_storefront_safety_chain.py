"""Supplier HTML through the whole chain: SERP → validated → enriched → central catalog → TW/US/JP sites.

Every known XSS vector goes in as a supplier's name, description, category and
translations; nothing executable may come out anywhere after staging (which
keeps the raw payload for audit), and ordinary formatting survives in the
catalog's formatted description.
"""

from __future__ import annotations

import orjson
from sqlalchemy import select

from commerce_core.catalog.storefront_text import safe_html
from commerce_core.db.engine import get_engine
from commerce_core.db.schema import enriched_products, product_translations, products, supplier_records, validated_products
from tests.catalog.helpers import run_catalog
from tests.catalog.storefront_safety import FORMATTED, XSS_VECTORS, assert_plain_text, assert_safe_html
from tests.regions.helpers import sync_region


def _hostile(vector: str, position: int) -> dict:
    return {"name": f"九份老街 {position} {vector}", "description": f"<p>導覽 {position}</p>{vector}",
            "category": f"Tours {vector}", "isActive": True, "status": "Published",
            "translations": {"en-US": {"name": f"Old street {position} {vector}",
                                       "description": f"<p>Walk {position}</p>{vector}"},
                             "ja-JP": {"name": f"老街 {position} {vector}", "description": f"<p>散策</p>{vector}"}}}


def test_no_vector_reaches_the_catalog_or_a_region_and_formatting_survives(database_url, serp_simulator,
                                                                           region_sites):
    served, catalog = serp_simulator(products=len(XSS_VECTORS) + 1)
    for position, vector in enumerate(XSS_VECTORS):
        assert catalog.edit(f"SERP-{position:07d}", _hostile(vector, position))
    formatted_id = f"SERP-{len(XSS_VECTORS):07d}"
    assert catalog.edit(formatted_id, {"description": FORMATTED, "isActive": True, "status": "Published"})
    run_catalog(database_url, served.url, mode="full")

    engine = get_engine(database_url)
    with engine.connect() as conn:
        raw = conn.execute(select(supplier_records.c.payload)).scalars().all()
        validated = [orjson.loads(p) for p in conn.execute(select(validated_products.c.product)).scalars() if p]
        enriched = [e for e in conn.execute(select(enriched_products.c.enrichment)).scalars() if e]
        central = conn.execute(select(products)).mappings().all()
        translations = conn.execute(select(product_translations)).mappings().all()
    # Staging keeps what the supplier sent, for audit: the vectors are really in the source.
    assert sum("<script>alert(1)</script>" in payload for payload in raw) == 1
    assert len(validated) == len(central) == len(XSS_VECTORS) + 1, "no product was lost to its text"
    for product in validated:
        where = f"validated {product['externalId']}"
        assert_plain_text(product["name"], where)
        assert_plain_text(product["category"], where)
        assert_safe_html(product["description"], where)
        for language, text in product["translations"].items():
            assert_plain_text(text["name"], f"{where} {language}")
            assert_safe_html(text["description"], f"{where} {language}")
    for enrichment in enriched:
        text = orjson.loads(enrichment)
        assert_plain_text(text["enrichedDescription"], "enrichment")
        for language, translated in text["catalogTranslations"].items():
            assert_plain_text(translated["name"], f"enrichment {language}")
            assert_plain_text(translated["description"], f"enrichment {language}")
    for row in central:
        where = f"central {row['external_product_id']}"
        for column in ("name", "category", "enriched_description"):
            assert_plain_text(row[column] or "", f"{where} {column}")
        assert_safe_html(row["description"], where)
    for row in translations:
        assert_plain_text(row["name"], "central translation")
        assert_plain_text(row["description"], "central translation")
    [kept] = [row for row in central if row["external_product_id"] == formatted_id]
    assert kept["description"] == safe_html(FORMATTED) and "<strong>Longshan Temple</strong>" in kept["description"]

    sites = region_sites()
    for code in ("TW", "US", "JP"):
        sync_region(database_url, sites, code)
        store = sites.store(code)
        for row in central:
            dto = store.get(str(row["id"]))
            assert dto is not None, f"{row['external_product_id']} never reached {code}"
            where = f"{code} {row['external_product_id']}"
            assert_plain_text(dto["category"], where)
            for language in dto["name"]:
                assert_plain_text(dto["name"][language], f"{where} name {language}")
                assert_plain_text(dto["description"][language], f"{where} description {language}")
        formatted = store.get(str(kept["id"]))
        assert any("Longshan Temple\nLunch\nTea" in text for text in formatted["description"].values())
