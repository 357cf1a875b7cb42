"""nextengine_products: Next Engine goods staged beside the other sources (seeds/002)."""

from contextlib import closing

from dagster import AssetExecutionContext, MaterializeResult, asset

from commerce_core.connectors.nextengine_mapping import NEXTENGINE_SUPPLIER_ID
from hub_assets.source_import import FullListingImportConfig, import_full_listing
from resources import CatalogDatabase, NextEngineResource

GOODS_SEARCH = "/api_v1_master_goods/search"


@asset(
    group_name="catalog",
    owners=["team:catalog"],
    kinds={"python", "sql"},
    tags={"hub/source": "nextengine"},
    description="Raw Next Engine goods (the whole listing, offset-paged, with rotating tokens kept in "
    "oauth_tokens), staged in supplier_records beside the other sources; goods Next Engine no longer lists "
    "are archived.",
)
def nextengine_products(context: AssetExecutionContext, config: FullListingImportConfig, catalog_db: CatalogDatabase,
                        nextengine: NextEngineResource) -> MaterializeResult:
    engine = catalog_db.engine
    with closing(nextengine.create_client(engine, on_retry=context.log.warning)) as client:
        return import_full_listing(
            context, engine, config, supplier_id=NEXTENGINE_SUPPLIER_ID, asset_name="nextengine_products",
            pages=lambda: client.search(GOODS_SEARCH, limit=nextengine.page_size),
            key=lambda record: record.get("goods_id"), extra_metadata={"shop": nextengine.shop()},
        )
