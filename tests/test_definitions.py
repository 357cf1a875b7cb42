"""The code location as the Dagster UI sees it: assets, lineage, checks, jobs, schedules."""

from dagster import AssetKey

from definitions import defs


def test_catalog_lineage_reads_like_the_business():
    graph = defs.resolve_asset_graph()
    upstream = {key.to_user_string(): {p.to_user_string() for p in graph.get(key).parent_keys}
                for key in graph.get_all_asset_keys()}
    assert upstream["validated_products"] == {"serp_products", "nextengine_products", "shopline_products"}
    assert upstream["enriched_products"] == {"validated_products"}
    assert upstream["central_catalog"] == {"enriched_products"}
    assert upstream["regional_snapshots"] == {"central_catalog"}
    assert upstream["shopline_inventory_sync"] == {"shopline_products"}


GROUPS = {"serp_products": "catalog", "nextengine_products": "catalog", "shopline_products": "catalog",
          "shopline_orders": "orders", "nextengine_orders": "orders", "validated_products": "catalog", "enriched_products": "catalog",
          "central_catalog": "catalog", "regional_snapshots": "regions", "stock_reconciliation": "stock",
          "stock_levels_overview": "stock", "number_pools": "invoices", "invoice_uploads": "invoices",
          "invoice_batches": "invoices", "turnkey_results": "invoices", "price_history": "monitoring",
          "price_change_alerts": "monitoring", "shopline_inventory_sync": "stock"}


def test_every_asset_has_description_group_and_owner():
    specs = list(defs.resolve_all_asset_specs())
    assert {spec.key.to_user_string() for spec in specs} == set(GROUPS)
    for spec in specs:
        assert spec.description, spec.key
        assert spec.group_name == GROUPS[spec.key.to_user_string()], spec.key
        assert spec.owners and spec.kinds, spec.key


def test_regional_snapshots_are_partitioned_by_enabled_region():
    graph = defs.resolve_asset_graph()
    partitions = graph.get(AssetKey("regional_snapshots")).partitions_def
    assert partitions.get_partition_keys() == ["TW", "US", "JP"]


def test_schedules_follow_the_seed_times_in_taipei():
    schedules = {s.name: s for s in defs.schedules}
    expected = {
        "serp_full_sync_daily": ("0 2 * * *", "serp_full_import"),
        "serp_incremental_sync_hourly": ("0 * * * *", "serp_incremental_import"),
        "serp_price_availability_every_15_minutes": ("*/15 * * * *", "serp_incremental_import"),
        "nextengine_import_hourly": ("30 * * * *", "nextengine_import"),
        "nextengine_full_import_daily": ("30 2 * * *", "nextengine_full_import"),
        "shopline_import_hourly": ("45 * * * *", "shopline_import"),
        "shopline_full_import_daily": ("45 2 * * *", "shopline_full_import"),
        "shopline_inventory_sync_every_10_minutes": ("*/10 * * * *", "inventory_sync_to_shopline"),
        "orders_import_every_15_minutes": ("*/15 * * * *", "orders_import"),
        "region_sync_tw": ("*/30 * * * *", "region_sync"),
        "region_sync_us": ("0 3 * * *", "region_sync"),
        "region_sync_jp": ("0 4 * * *", "region_sync"),
        "dead_letter_retry_every_15_minutes": ("*/15 * * * *", "dead_letter_retry"),
        "stock_reconciliation_every_15_minutes": ("*/15 * * * *", "stock_check"),
        "prune_webhook_events_daily": ("30 3 * * *", "prune_webhook_events"),
        "invoice_batch_daily": ("30 0 * * *", "invoice_batch"),
        "turnkey_results_every_5_minutes": ("*/5 * * * *", "turnkey_results_check"),
        "archive_invoices_monthly": ("30 4 1 * *", "archive_invoices"),
        "price_watch_daily": ("30 23 * * *", "price_watch"),
    }
    for name, (cron, job) in expected.items():
        assert schedules[name].cron_schedule == cron
        assert schedules[name].execution_timezone == "Asia/Taipei"
        assert schedules[name].job_name == job


def test_reject_rate_check_is_attached_to_validated_products():
    checks = {key.name: key.asset_key for key in defs.resolve_asset_graph().asset_check_keys}
    assert checks["validated_products_reject_rate"] == AssetKey("validated_products")


def test_manual_job_takes_product_ids_from_the_launchpad():
    job = defs.resolve_job_def("serp_manual_import")
    config = job.run_config_schema.config_type.fields["ops"].config_type.fields["serp_products"]
    assert config is not None
    assert job.tags["hub/pipeline"] == "catalog"


def test_region_schedules_launch_their_own_partition_once_per_tick():
    from datetime import datetime, timezone

    from dagster import build_schedule_context

    schedules = {s.name: s for s in defs.schedules}
    moment = datetime(2026, 3, 1, 19, 0, tzinfo=timezone.utc)
    for code in ("TW", "US", "JP"):
        with build_schedule_context(scheduled_execution_time=moment,
                                    repository_def=defs.get_repository_def()) as context:
            [request] = schedules[f"region_sync_{code.lower()}"].evaluate_tick(context).run_requests
        assert request.partition_key == code
        assert request.run_key == f"{code}:{moment.isoformat()}"
