"""Enrichment through an OpenAI-compatible LLM: fills missing languages, caches by text, survives failures."""

from __future__ import annotations

from sqlalchemy import select

from commerce_core.db.engine import get_engine
from commerce_core.db.schema import enriched_products, product_translations, products
from resources import EnricherResource
from simulators.asgi_server import ServedApp
from tests.catalog.fake_llm import FakeLlm
from tests.catalog.helpers import materialization_metadata, run_catalog


def _llm_enricher(url: str) -> EnricherResource:
    return EnricherResource(llm_base_url=url, llm_api_key="test-llm-key", llm_model="fake-1",
                            backoff_seconds=0.01, max_attempts=2, concurrency=2)


def test_llm_fills_languages_failures_keep_originals_and_text_is_never_enriched_twice(database_url, serp_simulator):
    served, catalog = serp_simulator(products=30)
    fake = FakeLlm()
    with ServedApp(fake.app) as llm:
        fake.failing = True
        failed = run_catalog(database_url, served.url, mode="full", enricher=_llm_enricher(llm.url))
        assert failed.success
        enriched = materialization_metadata(failed, "enriched_products")
        assert enriched["enrichment_failed"] > 0
        engine = get_engine(database_url)
        with engine.connect() as conn:
            outcomes = dict(conn.execute(select(enriched_products.c.external_id, enriched_products.c.outcome)).all())
            kept = conn.execute(select(products.c.external_product_id, products.c.name)).all()
        assert "original" in outcomes.values()
        assert len(kept) == 30  # every product is in the catalog, enriched or not

        fake.failing = False
        fake.requests.clear()
        healed = run_catalog(database_url, served.url, mode="full", enricher=_llm_enricher(llm.url))
        assert materialization_metadata(healed, "enriched_products")["enrichment_failed"] == 0
        assert fake.requests and all(r["authorization"] == "Bearer test-llm-key" for r in fake.requests)
        assert all(r["body"]["model"] == "fake-1" for r in fake.requests)
        with engine.connect() as conn:
            sources = {row.source for row in conn.execute(select(product_translations.c.source))}
            missing = conn.execute(select(products.c.missing_languages)).scalars().all()
            languages = conn.execute(select(product_translations.c.language_code)).scalars().all()
        assert "llm" in sources
        assert all(m == [] for m in missing)
        assert len(languages) == 30 * 3

        # A price and seat change leaves the text alone: no new LLM call, yet the product updates.
        fake.requests.clear()
        index = 4
        before_name = catalog.product(index)["name"]
        catalog.change_ids([catalog.product(index)["id"]])
        assert catalog.product(index)["name"] != before_name  # the simulator renames too
        result = run_catalog(database_url, served.url, enricher=_llm_enricher(llm.url))
        assert materialization_metadata(result, "central_catalog")["updated"] == 1
        calls_for_rename = len(fake.requests)
        assert calls_for_rename <= 3  # at most one call per missing language of that one product

        fake.requests.clear()
        rerun = run_catalog(database_url, served.url, mode="full", enricher=_llm_enricher(llm.url))
        assert fake.requests == []
        assert materialization_metadata(rerun, "central_catalog")["updated"] == 0
