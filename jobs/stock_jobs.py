"""Stock reconciliation job (both stock assets) and the Next Engine -> Shopline inventory sync."""

from dagster import AssetSelection, define_asset_job

from hub_assets.inventory_sync import INVENTORY_SYNC_ASSETS
from hub_assets.stock import STOCK_ASSETS

stock_reconciliation_job = define_asset_job(
    "stock_check",
    selection=AssetSelection.assets(*STOCK_ASSETS),
    description="Check Redis and the stock projection against the ledger, repair Redis, release expired holds, "
    "and refresh the stock-level overview.",
    tags={"hub/pipeline": "stock"},
)

shopline_inventory_sync_job = define_asset_job(
    "inventory_sync_to_shopline",
    selection=AssetSelection.assets(*INVENTORY_SYNC_ASSETS),
    description="Send pending Next Engine stock pushes to Shopline's inventory (the newest per SKU), retrying "
    "failed ones whose wait is over.",
    tags={"hub/pipeline": "inventory-sync"},  # one at a time (dagster.yaml)
)

STOCK_JOBS = [stock_reconciliation_job, shopline_inventory_sync_job]
