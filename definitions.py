"""The one place that builds Commerce Hub's Dagster Definitions from its packages."""

from __future__ import annotations

import os

from dagster import Definitions, EnvVar, multiprocess_executor

from hub_assets.catalog import CATALOG_ASSETS, CATALOG_CHECKS, NEXTENGINE_ASSETS, SHOPLINE_ASSETS
from hub_assets.inventory_sync import INVENTORY_SYNC_ASSETS
from hub_assets.invoices import INVOICE_ASSETS
from hub_assets.monitoring import MONITORING_ASSETS
from hub_assets.orders import ORDER_ASSETS
from hub_assets.regions import REGION_ASSETS
from hub_assets.stock import STOCK_ASSETS
from jobs.catalog_jobs import CATALOG_JOBS
from jobs.invoice_jobs import INVOICE_JOBS
from jobs.monitoring_jobs import MONITORING_JOBS
from jobs.region_jobs import REGION_JOBS
from jobs.stock_jobs import STOCK_JOBS
from jobs.webhook_jobs import WEBHOOK_JOBS
from resources import (
    CatalogDatabase,
    EnricherResource,
    FxRatesResource,
    InvoiceUploadsResource,
    NextEngineResource,
    NotifierResource,
    RegionsResource,
    SerpSupplierResource,
    ShoplineResource,
    StockRedisResource,
    TurnkeyResource,
)
from schedules.catalog_schedules import CATALOG_SCHEDULES
from schedules.invoice_schedules import INVOICE_SCHEDULES
from schedules.monitoring_schedules import MONITORING_SCHEDULES
from schedules.region_schedules import REGION_SCHEDULES
from schedules.stock_schedules import STOCK_SCHEDULES
from sensors.inventory_sync import INVENTORY_SYNC_SENSORS
from sensors.invoice_files import INVOICE_SENSORS
from sensors.run_failures import FAILURE_SENSORS
from sensors.stock_events import STOCK_SENSORS
from sensors.supplier_events import WEBHOOK_SENSORS
from sensors.webhook_region_refresh import REGION_REFRESH_SENSORS


def _secret(name: str) -> EnvVar | None:
    """A set secret is resolved by Dagster at run start and never shown; unset means the local default."""
    return EnvVar(name) if os.environ.get(name) else None


def build_resources() -> dict:
    return {
        "catalog_db": CatalogDatabase(),
        "serp": SerpSupplierResource(api_key=_secret("SERP_API_KEY")),
        "enricher": EnricherResource(llm_api_key=_secret("HUB_LLM_API_KEY")),
        "regions": RegionsResource(),
        "fx": FxRatesResource(),
        "notifier": NotifierResource(),
        "stock_redis": StockRedisResource(),
        "nextengine": NextEngineResource(),
        "shopline": ShoplineResource(access_token=_secret("SHOPLINE_ACCESS_TOKEN")),
        "turnkey": TurnkeyResource(),
        "uploads": InvoiceUploadsResource(),
    }


defs = Definitions(
    assets=[*CATALOG_ASSETS, *NEXTENGINE_ASSETS, *SHOPLINE_ASSETS, *ORDER_ASSETS, *REGION_ASSETS, *STOCK_ASSETS,
            *INVOICE_ASSETS, *MONITORING_ASSETS, *INVENTORY_SYNC_ASSETS],
    asset_checks=CATALOG_CHECKS,
    jobs=[*CATALOG_JOBS, *REGION_JOBS, *STOCK_JOBS, *WEBHOOK_JOBS, *INVOICE_JOBS, *MONITORING_JOBS],
    schedules=[*CATALOG_SCHEDULES, *REGION_SCHEDULES, *STOCK_SCHEDULES, *INVOICE_SCHEDULES,
               *MONITORING_SCHEDULES],
    sensors=[*STOCK_SENSORS, *WEBHOOK_SENSORS, *REGION_REFRESH_SENSORS, *FAILURE_SENSORS, *INVOICE_SENSORS,
             *INVENTORY_SYNC_SENSORS],
    resources=build_resources(),
    # Every job, and every materialization launched from the UI or the CLI, runs each step in its own
    # process (docs/decisions/0001-worker-processes-belong-to-the-step.md): the bulk stages fan out into
    # worker processes of their own, which live and die with their step.
    executor=multiprocess_executor,
)
