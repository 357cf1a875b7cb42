"""shopline_products: the Shopline store's products (GraphQL) staged beside the other sources (seeds/002)."""

from contextlib import closing

from dagster import AssetExecutionContext, MaterializeResult, asset

from commerce_core.catalog.models import parse_utc
from commerce_core.connectors.converters import shopline_graphql_query
from commerce_core.connectors.shopline_mapping import SHOPLINE_SUPPLIER_ID, product_key
from hub_assets.source_import import SourceImportConfig, import_listing
from resources import CatalogDatabase, ShoplineResource

SHOPLINE_CURSOR = "shopline:products:updated_since"


@asset(
    group_name="catalog",
    owners=["team:catalog"],
    kinds={"python", "sql"},
    tags={"hub/source": "shopline"},
    description="Raw Shopline products (GraphQL, Relay cursors; GIDs kept as plain ids), staged in "
    "supplier_records beside the other sources: products updated since the stored cursor (an `updated_at` "
    "search), or the whole listing, which archives products the store no longer lists.",
)
def shopline_products(context: AssetExecutionContext, config: SourceImportConfig, catalog_db: CatalogDatabase,
                      shopline: ShoplineResource) -> MaterializeResult:
    with closing(shopline.create_client(on_retry=context.log.warning)) as client:
        return import_listing(
            context, catalog_db.engine, config, supplier_id=SHOPLINE_SUPPLIER_ID, asset_name="shopline_products",
            cursor_name=SHOPLINE_CURSOR,
            pages=lambda spec: client.products(shopline.page_size, search=shopline_graphql_query(spec)),
            key=product_key, updated_at=lambda node: parse_utc(node.get("updatedAt")),
        )
