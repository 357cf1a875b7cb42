"""The code location as the Dagster UI sees it: assets, lineage, checks, jobs, schedules."""

from dagster import AssetKey

from definitions import defs


def test_catalog_lineage_reads_like_the_business():
    graph = defs.resolve_asset_graph()
    upstream = {key.to_user_string(): {p.to_user_string() for p in graph.get(key).parent_keys}
                for key in graph.get_all_asset_keys()}
    assert upstream["validated_products"] == {"serp_products"}
    assert upstream["enriched_products"] == {"validated_products"}
    assert upstream["central_catalog"] == {"enriched_products"}


def test_every_asset_has_description_group_and_owner():
    for spec in defs.resolve_all_asset_specs():
        assert spec.description, spec.key
        assert spec.group_name == "catalog", spec.key
        assert spec.owners or spec.kinds, spec.key


def test_schedules_follow_the_seed_times_in_taipei():
    schedules = {s.name: s for s in defs.schedules}
    expected = {
        "serp_full_sync_daily": ("0 2 * * *", "serp_full_import"),
        "serp_incremental_sync_hourly": ("0 * * * *", "serp_incremental_import"),
        "serp_price_availability_every_15_minutes": ("*/15 * * * *", "serp_incremental_import"),
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
    assert job.tags["hub/pipeline"] == "catalog-serp"
