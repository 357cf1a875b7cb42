"""Running the catalog assets in tests, and reading what they left in the database."""

from __future__ import annotations

from dagster import DagsterInstance, materialize
from sqlalchemy import func, select

from commerce_core.db.engine import get_engine
from commerce_core.db.schema import product_images, product_prices, product_translations, products
from hub_assets.catalog import CATALOG_ASSETS, CATALOG_CHECKS
from resources import CatalogDatabase, EnricherResource, SerpSupplierResource
from tests.conftest import SERP_KEY


def catalog_resources(database_url: str, serp_url: str, enricher: EnricherResource | None = None,
                      catalog_db: CatalogDatabase | None = None) -> dict:
    return {
        "catalog_db": catalog_db or CatalogDatabase(database_url=database_url),
        "serp": SerpSupplierResource(base_url=serp_url, api_key=SERP_KEY, page_size=50, backoff_seconds=0.01, concurrency=1,
                                     requests_per_second=0),
        "enricher": enricher or EnricherResource(),
    }


def run_catalog(database_url: str, serp_url: str, *, mode: str = "incremental", product_ids: list[str] | None = None,
                enricher: EnricherResource | None = None, instance: DagsterInstance | None = None,
                raise_on_error: bool = True, selection: list[str] | None = None,
                catalog_db: CatalogDatabase | None = None):
    config = {"mode": mode}
    if product_ids is not None:
        config["product_ids"] = product_ids
    return materialize(
        [*CATALOG_ASSETS, *CATALOG_CHECKS],
        resources=catalog_resources(database_url, serp_url, enricher, catalog_db),
        run_config={"ops": {"serp_products": {"config": config}}} if not selection or "serp_products" in selection else None,
        instance=instance or DagsterInstance.ephemeral(),
        raise_on_error=raise_on_error,
        selection=selection,
    )


def materialization_metadata(result, asset_name: str) -> dict:
    [event] = [e for e in result.get_asset_materialization_events() if e.asset_key.path == [asset_name]]
    return {key: value.value for key, value in event.materialization.metadata.items()}


def catalog_snapshot(database_url: str) -> dict:
    """Everything a rerun must leave untouched: every product row and its children."""
    engine = get_engine(database_url)
    with engine.connect() as conn:
        rows = conn.execute(select(products).order_by(products.c.external_product_id)).mappings().all()
        children = {
            table.name: conn.execute(select(func.count()).select_from(table)).scalar_one()
            for table in (product_translations, product_prices, product_images)
        }
    return {"products": [dict(row) for row in rows], **children}
