"""The GlobalHub design's sync metrics (docs/background.md), read from what the assets record (import_jobs,
region_sync_logs).

The assets write one row per import and per region sync as they run; a scrape turns
those rows into the Prometheus series of that design, so the numbers survive process
restarts and every Dagster run process contributes without a push gateway:
  globalhub_serp_sync_total{status}                counter  (import runs of the SERP source)
  globalhub_region_sync_total{region,status}       counter
  globalhub_sync_duration_seconds{source}          histogram (finished runs)
  globalhub_last_sync_timestamp{source}            gauge    (last successful run; source = serp | region code)
"""

from __future__ import annotations

from collections import defaultdict

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import Engine, func, select

from commerce_core.db.schema import import_jobs, region_sync_logs

DURATION_BUCKETS = (1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600)
# A counter never goes down: a run is counted once it finished, never while `running`.
FINISHED = ("succeeded", "partial", "failed")


class SyncMetricsCollector(Collector):
    def __init__(self, engine: Engine):
        self.engine = engine

    def collect(self):
        """The sync series, and `globalhub_sync_metrics_up` 0 (nothing else) while the database is unreachable,
        so the service's own metrics still answer during an outage."""
        up = GaugeMetricFamily("globalhub_sync_metrics_up", "1 when the sync records could be read")
        try:
            families = list(self._families())
        except Exception:  # noqa: BLE001 - an outage is reported as a value, not a failed scrape
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from families

    def _families(self):
        serp = CounterMetricFamily("globalhub_serp_sync", "SERP import runs by outcome", labels=["status"])
        regions = CounterMetricFamily("globalhub_region_sync", "Region syncs by region and outcome",
                                      labels=["region", "status"])
        last = GaugeMetricFamily("globalhub_last_sync_timestamp", "Unix time of the last successful sync",
                                 labels=["source"])
        durations: dict[str, list[float]] = defaultdict(list)
        with self.engine.connect() as conn:
            for status, count in conn.execute(select(import_jobs.c.status, func.count())
                                              .where(import_jobs.c.supplier_id == "SERP",
                                                     import_jobs.c.status.in_(FINISHED))
                                              .group_by(import_jobs.c.status)):
                serp.add_metric([status], count)
            for region, status, count in conn.execute(
                    select(region_sync_logs.c.region_code, region_sync_logs.c.status, func.count())
                    .where(region_sync_logs.c.status.in_(FINISHED))
                    .group_by(region_sync_logs.c.region_code, region_sync_logs.c.status)):
                regions.add_metric([region, status], count)
            serp_last = conn.execute(select(func.max(import_jobs.c.completed_at)).where(
                import_jobs.c.supplier_id == "SERP", import_jobs.c.status == "succeeded")).scalar()
            if serp_last:
                last.add_metric(["serp"], _timestamp(serp_last))
            for region, when in conn.execute(select(region_sync_logs.c.region_code,
                                                    func.max(region_sync_logs.c.completed_at))
                                             .where(region_sync_logs.c.status == "succeeded")
                                             .group_by(region_sync_logs.c.region_code)):
                last.add_metric([region], _timestamp(when))
            for created, completed in conn.execute(select(import_jobs.c.created_at, import_jobs.c.completed_at).where(
                    import_jobs.c.supplier_id == "SERP", import_jobs.c.completed_at.is_not(None))):
                durations["serp"].append((completed - created).total_seconds())
            for region, started, completed in conn.execute(
                    select(region_sync_logs.c.region_code, region_sync_logs.c.started_at,
                           region_sync_logs.c.completed_at).where(region_sync_logs.c.completed_at.is_not(None))):
                durations[region].append((completed - started).total_seconds())
        histogram = HistogramMetricFamily("globalhub_sync_duration_seconds", "Duration of finished syncs",
                                          labels=["source"])
        for source, values in sorted(durations.items()):
            buckets = [(str(float(bound)), sum(1 for v in values if v <= bound)) for bound in DURATION_BUCKETS]
            buckets.append(("+Inf", len(values)))
            histogram.add_metric([source], buckets, sum(values))
        yield from (serp, regions, histogram, last)


def _timestamp(value) -> float:
    return value.timestamp() if hasattr(value, "timestamp") else float(value)
