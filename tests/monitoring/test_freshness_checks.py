"""Freshness checks: SERP data that never arrived or is over an hour old fails; a fresh run passes."""

from dagster import AssetCheckSeverity, AssetKey, AssetMaterialization, DagsterInstance

from definitions import defs
from hub_assets.freshness import FRESHNESS_CHECKS, freshness_checks_sensor


def _run_checks(instance):
    job = defs.resolve_implicit_global_asset_job_def()
    keys = {key for check in FRESHNESS_CHECKS for key in check.check_keys}
    result = job.get_subset(asset_check_selection=keys, asset_selection=set()).execute_in_process(instance=instance)
    return {(e.asset_key.to_user_string(), e.check_name): e for e in result.get_asset_check_evaluations()}


def test_serp_is_a_failure_until_it_was_imported_within_the_hour():
    instance = DagsterInstance.ephemeral()
    stale = _run_checks(instance)
    serp = stale[("serp_products", "freshness_check")]
    assert not serp.passed and serp.severity == AssetCheckSeverity.ERROR
    assert stale[("regional_snapshots", "freshness_check")].severity == AssetCheckSeverity.WARN
    instance.report_runless_asset_event(AssetMaterialization(AssetKey("serp_products")))
    fresh = _run_checks(instance)
    assert fresh[("serp_products", "freshness_check")].passed
    assert not fresh[("central_catalog", "freshness_check")].passed


def test_the_sensor_runs_them_and_is_in_the_code_location():
    assert freshness_checks_sensor.name in {sensor.name for sensor in defs.sensors}
    checked = {key.asset_key.to_user_string() for check in FRESHNESS_CHECKS for key in check.check_keys}
    assert checked == {"serp_products", "central_catalog", "regional_snapshots"}
