"""Price and availability history with change alerts (seller-monitoring design, docs/background.md), group
`monitoring`, daily partitions."""

import base64
import time
from contextlib import closing
from datetime import date

from dagster import AssetExecutionContext, Config, DailyPartitionsDefinition, MaterializeResult, MetadataValue, asset
from pydantic import Field

from commerce_core.db.cursors import utcnow
from commerce_core.monitoring import price_watch
from commerce_core.monitoring.charts import price_lines_png
from hub_assets.catalog import central_catalog
from hub_assets.metadata import markdown_table
from resources import CatalogDatabase, NotifierResource

MONITORING_GROUP = "monitoring"
MONITORING_OWNERS = ["team:monitoring"]
TOP_MOVERS = 5
monitoring_days = DailyPartitionsDefinition(start_date="2025-01-01", timezone="Asia/Taipei", end_offset=1)


@asset(partitions_def=monitoring_days, deps=[central_catalog], group_name=MONITORING_GROUP,
       owners=MONITORING_OWNERS, kinds={"python", "sql"},
       description="A snapshot of every active product's prices (per currency and price type) and seats for the "
       "day; rerunning a day replaces that day's snapshot and nothing else.")
def price_history(context: AssetExecutionContext, catalog_db: CatalogDatabase) -> MaterializeResult:
    started = time.perf_counter()
    day = date.fromisoformat(context.partition_key)
    rows = price_watch.snapshot_day(catalog_db.engine, day)
    return MaterializeResult(metadata={"dagster/row_count": rows, "snapshot_date": day.isoformat(),
                                       "duration_seconds": round(time.perf_counter() - started, 3)})


class PriceAlertConfig(Config):
    up_pct: float = Field(default=10.0, description="Alert when a price rises by at least this percentage.")
    down_pct: float = Field(default=10.0, description="Alert when a price falls by at least this percentage.")


@asset(partitions_def=monitoring_days, deps=[price_history], group_name=MONITORING_GROUP,
       owners=MONITORING_OWNERS, kinds={"python", "pandas"},
       description="Changes of the day computed with pandas over the history: price up or down past a "
       "percentage, sold out, back in stock, a new lowest price in 30 days. Stored once each and sent through "
       "the notifier (HUB_NOTIFY_WEBHOOK_URL, else the log); an alert is never sent twice.")
def price_change_alerts(context: AssetExecutionContext, config: PriceAlertConfig, catalog_db: CatalogDatabase,
                        notifier: NotifierResource) -> MaterializeResult:
    started = time.perf_counter()
    day = date.fromisoformat(context.partition_key)
    engine = catalog_db.engine
    with engine.connect() as conn:
        history = price_watch.load_history(conn, day)
    alerts = price_watch.detect_alerts(history, day, price_watch.Thresholds(config.up_pct, config.down_pct))
    with engine.begin() as conn:
        price_watch.store_alerts(conn, alerts, day)
    sent = failed = 0
    with closing(notifier.create_notifier(context.log.info)) as channel, engine.connect() as conn:
        for alert in price_watch.unsent_alerts(conn, day):
            delivered = channel.send(f"{alert['kind']}: {alert['external_product_id']}", _message(alert),
                                     severity="info", details={str(k): str(v) for k, v in alert.items()
                                                               if k not in ("id", "sent_at", "created_at")})
            if delivered:
                with engine.begin() as marking:
                    price_watch.mark_sent(marking, alert["id"], utcnow())
                sent += 1
            else:
                failed += 1
    movers = (alerts[alerts["kind"].isin(["price_up", "price_down"])]
              .assign(size=lambda frame: frame["change_pct"].map(lambda p: abs(p)))
              .sort_values("size", ascending=False).head(TOP_MOVERS)) if len(alerts) else alerts
    metadata = {
        "dagster/row_count": len(alerts),
        **{kind: int((alerts["kind"] == kind).sum()) if len(alerts) else 0 for kind in price_watch.KINDS},
        "sent": sent,
        "delivery_failed": failed,
        "top_movers": MetadataValue.md(markdown_table(
            ["product", "currency", "type", "before", "now", "change %"],
            [(m.external_product_id, m.currency, m.price_type, f"{m.previous_value:,.2f}", f"{m.current_value:,.2f}",
              f"{m.change_pct:+.1f}") for m in movers.itertuples()]) if len(movers) else "no price moved past the thresholds"),
        "duration_seconds": round(time.perf_counter() - started, 3),
    }
    if len(movers):
        png = price_lines_png(history, movers, title=f"Top movers up to {day}")
        metadata["top_movers_chart"] = MetadataValue.md(
            f"![price lines of the top movers](data:image/png;base64,{base64.b64encode(png).decode()})")
    return MaterializeResult(metadata=metadata)


def _message(alert: dict) -> str:
    if alert["kind"] in ("sold_out", "back_in_stock"):
        return f"seats {alert['previous_value']} → {alert['current_value']} on {alert['snapshot_date']}"
    return (f"{alert['currency']} {alert['price_type']}: {alert['previous_value']} → {alert['current_value']}"
            + (f" ({alert['change_pct']} %)" if alert["change_pct"] is not None else ""))


MONITORING_ASSETS = [price_history, price_change_alerts]
