"""Freshness policies: SERP data and the central catalog fail past an hour; regional snapshots warn past 4 hours.

Dagster's freshness daemon evaluates the policies; this release has no public API to evaluate one in a
test, so the tests pin what the daemon reads: the policy on each asset and the instance setting.
"""

from datetime import timedelta
from pathlib import Path

import yaml
from dagster import FreshnessPolicy

from definitions import defs

ROOT = Path(__file__).resolve().parents[2]


def _policies():
    return {spec.key.to_user_string(): spec.freshness_policy for spec in defs.resolve_all_asset_specs()
            if spec.freshness_policy is not None}


def test_serp_and_the_central_catalog_fail_when_not_materialized_within_the_hour():
    policies = _policies()
    for key in ("serp_products", "central_catalog"):
        assert policies[key] == FreshnessPolicy.time_window(fail_window=timedelta(hours=1)), key
        assert policies[key].warn_window is None


def test_regional_snapshots_warn_past_four_hours():
    policy = _policies()["regional_snapshots"]
    assert policy.warn_window.to_timedelta() == timedelta(hours=4)
    assert policy.fail_window.to_timedelta() == timedelta(hours=24)


def test_only_those_assets_have_a_policy_and_no_freshness_checks_or_sensor_remain():
    assert set(_policies()) == {"serp_products", "central_catalog", "regional_snapshots"}
    assert not [key for key in defs.resolve_asset_graph().asset_check_keys if "freshness" in key.name]
    assert not [sensor.name for sensor in defs.sensors if "freshness" in sensor.name]


def test_both_instances_run_the_freshness_daemon():
    for name in ("dagster.yaml", "dagster_postgres.yaml"):
        assert yaml.safe_load((ROOT / name).read_text())["freshness"] == {"enabled": True}, name
