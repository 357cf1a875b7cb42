"""Freshness policies from the GlobalHub design's alert rules (docs/background.md), attached where the assets are defined.

SERP data not materialized within 1 hour is failing (SerpSyncStale: critical); the
central catalog follows it. A regional snapshot older than 4 hours is a warning (the
region health check's threshold), and failing after a day, when even the daily
regions (US, JP) have missed their run; the policy looks at the newest region run,
whichever partition it was.

Dagster's freshness daemon (`freshness: enabled` in the instance, part of
`dagster dev` and `dagster-daemon run`) evaluates the policies every 30 seconds;
the UI shows the state (Pass, Warn, Fail, Unknown before the first
materialization) on each asset.
"""

from datetime import timedelta

from dagster import FreshnessPolicy

SERP_STALE_AFTER = timedelta(hours=1)
REGION_WARN_AFTER = timedelta(hours=4)
# The API asks every policy for a failure window; the seed rule for regions is a warning only.
REGION_FAIL_AFTER = timedelta(hours=24)

CATALOG_FRESHNESS = FreshnessPolicy.time_window(fail_window=SERP_STALE_AFTER)
REGION_FRESHNESS = FreshnessPolicy.time_window(fail_window=REGION_FAIL_AFTER, warn_window=REGION_WARN_AFTER)
