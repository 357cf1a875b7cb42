"""Stock reconciliation job (both stock assets)."""

from dagster import AssetSelection, define_asset_job

from hub_assets.stock import STOCK_ASSETS

stock_reconciliation_job = define_asset_job(
    "stock_check",
    selection=AssetSelection.assets(*STOCK_ASSETS),
    description="Check Redis and the stock projection against the ledger, repair Redis, release expired holds, "
    "and refresh the stock-level overview.",
    tags={"hub/pipeline": "stock"},
)

STOCK_JOBS = [stock_reconciliation_job]
