"""The daily price and availability snapshot with its change alerts."""

from dagster import AssetSelection, define_asset_job

from hub_assets.monitoring import MONITORING_ASSETS

price_watch_job = define_asset_job(
    "price_watch", selection=AssetSelection.assets(*MONITORING_ASSETS), tags={"hub/pipeline": "monitoring"},
    description="Snapshot every active product's prices and seats for the day, then alert on the changes.")

MONITORING_JOBS = [price_watch_job]
