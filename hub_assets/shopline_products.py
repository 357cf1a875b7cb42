"""shopline_products: the Shopline store's products (GraphQL) staged beside the other sources (connector design,
docs/background.md)."""

from contextlib import closing

from dagster import AssetExecutionContext, MaterializeResult, asset
from pydantic import Field

from commerce_core.catalog.models import parse_utc
from commerce_core.connectors.converters import shopline_graphql_query
from commerce_core.connectors.shopline_mapping import SHOPLINE_SUPPLIER_ID, product_key
from hub_assets.run_context import record_webhook_run
from hub_assets.source_import import SourceImportConfig, import_by_ids, import_listing
from resources import CatalogDatabase, ShoplineResource

SHOPLINE_CURSOR = "shopline:products:updated_since"


class ShoplineImportConfig(SourceImportConfig):
    product_ids: list[str] = Field(
        default_factory=list,
        description="Only these products (plain Shopline ids) instead of the whole listing; one the store no "
        "longer has is archived.",
    )
    variant_ids: list[str] = Field(
        default_factory=list,
        description="... and the products of these variants (inventory level events name a variant).",
    )


@asset(
    group_name="catalog",
    owners=["team:catalog"],
    kinds={"python", "sql"},
    tags={"hub/source": "shopline"},
    description="Raw Shopline products (GraphQL, Relay cursors; GIDs kept as plain ids), staged in "
    "supplier_records beside the other sources: products updated since the stored cursor (an `updated_at` "
    "search), or the whole listing, which archives products the store no longer lists. With product_ids / "
    "variant_ids (webhooks), only those products are read (nodes(ids:)).",
)
def shopline_products(context: AssetExecutionContext, config: ShoplineImportConfig, catalog_db: CatalogDatabase,
                      shopline: ShoplineResource) -> MaterializeResult:
    engine = catalog_db.engine
    handled = {"webhook_events": record_webhook_run(context, engine)}
    with closing(shopline.create_client(on_retry=context.log.warning)) as client:
        if config.product_ids or config.variant_ids:
            missing: list[str] = []
            return import_by_ids(
                context, engine, supplier_id=SHOPLINE_SUPPLIER_ID, asset_name="shopline_products",
                # The audit keeps variants apart from products: they are different Shopline ids.
                requested=[*config.product_ids, *(f"variant:{v}" for v in config.variant_ids)],
                requested_by=config.requested_by,
                batches=client.products_by_id(config.product_ids, config.variant_ids, missing), missing=missing,
                key=product_key, extra_metadata=handled,
            )
        return import_listing(
            context, engine, config, supplier_id=SHOPLINE_SUPPLIER_ID, asset_name="shopline_products",
            cursor_name=SHOPLINE_CURSOR,
            pages=lambda spec: client.products(shopline.page_size, search=shopline_graphql_query(spec)),
            key=product_key, updated_at=lambda node: parse_utc(node.get("updatedAt")), extra_metadata=handled,
        )
