"""nextengine_products: Next Engine goods staged beside the other sources (the connector design, docs/background.md)."""

from contextlib import closing

from dagster import AssetExecutionContext, MaterializeResult, asset

from commerce_core.connectors.converters import nextengine_fields
from commerce_core.connectors.nextengine_mapping import NEXTENGINE_SUPPLIER_ID, goods_modified_at
from hub_assets.source_import import SourceImportConfig, import_listing
from resources import CatalogDatabase, NextEngineResource

GOODS_SEARCH = "/api_v1_master_goods/search"
NEXTENGINE_CURSOR = "nextengine:goods:updated_since"


@asset(
    group_name="catalog",
    owners=["team:catalog"],
    kinds={"python", "sql"},
    tags={"hub/source": "nextengine"},
    description="Raw Next Engine goods (offset-paged, with rotating tokens kept in oauth_tokens), staged in "
    "supplier_records beside the other sources: goods modified since the stored cursor "
    "(goods_last_modified_date-gte), or the whole listing, which archives goods Next Engine no longer lists.",
)
def nextengine_products(context: AssetExecutionContext, config: SourceImportConfig, catalog_db: CatalogDatabase,
                        nextengine: NextEngineResource) -> MaterializeResult:
    engine = catalog_db.engine
    with closing(nextengine.create_client(engine, on_retry=context.log.warning)) as client:
        return import_listing(
            context, engine, config, supplier_id=NEXTENGINE_SUPPLIER_ID, asset_name="nextengine_products",
            cursor_name=NEXTENGINE_CURSOR,
            pages=lambda spec: client.search(GOODS_SEARCH, limit=nextengine.page_size, fields=nextengine_fields(spec)),
            key=lambda record: record.get("goods_id"), updated_at=goods_modified_at,
            extra_metadata={"shop": nextengine.shop()},
        )
