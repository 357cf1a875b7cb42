"""shopline_products: the Shopline store's products (GraphQL) staged beside the other sources (seeds/002)."""

from contextlib import closing

from dagster import AssetExecutionContext, MaterializeResult, asset

from commerce_core.connectors.shopline_mapping import SHOPLINE_SUPPLIER_ID, product_key
from hub_assets.source_import import FullListingImportConfig, import_full_listing
from resources import CatalogDatabase, ShoplineResource


@asset(
    group_name="catalog",
    owners=["team:catalog"],
    kinds={"python", "sql"},
    tags={"hub/source": "shopline"},
    description="Raw Shopline products (GraphQL, Relay cursors; GIDs kept as plain ids), staged in "
    "supplier_records beside the other sources; products the store no longer lists are archived.",
)
def shopline_products(context: AssetExecutionContext, config: FullListingImportConfig, catalog_db: CatalogDatabase,
                      shopline: ShoplineResource) -> MaterializeResult:
    with closing(shopline.create_client(on_retry=context.log.warning)) as client:
        return import_full_listing(
            context, catalog_db.engine, config, supplier_id=SHOPLINE_SUPPLIER_ID, asset_name="shopline_products",
            pages=lambda: client.products(shopline.page_size), key=product_key,
        )
