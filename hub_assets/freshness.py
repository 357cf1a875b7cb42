"""Freshness checks (asset checks in the UI) from the GlobalHub design's alert rules (docs/background.md), and
the sensor that runs them.

SERP data older than 1 hour is a failure (SerpSyncStale: critical); the central
catalog follows it. A regional snapshot older than 4 hours is a warning (the
region health check's threshold); the check looks at the newest region run.
"""

from datetime import timedelta

from dagster import AssetCheckSeverity, build_last_update_freshness_checks, build_sensor_for_freshness_checks

from hub_assets.catalog import central_catalog, serp_products
from hub_assets.regions import regional_snapshots

SERP_STALE_AFTER = timedelta(hours=1)
REGION_STALE_AFTER = timedelta(hours=4)

catalog_freshness_checks = build_last_update_freshness_checks(
    assets=[serp_products, central_catalog], lower_bound_delta=SERP_STALE_AFTER, severity=AssetCheckSeverity.ERROR)

region_freshness_checks = build_last_update_freshness_checks(
    assets=[regional_snapshots], lower_bound_delta=REGION_STALE_AFTER, severity=AssetCheckSeverity.WARN)

FRESHNESS_CHECKS = [*catalog_freshness_checks, *region_freshness_checks]

freshness_checks_sensor = build_sensor_for_freshness_checks(
    freshness_checks=FRESHNESS_CHECKS, minimum_interval_seconds=300, name="freshness_checks_sensor")
