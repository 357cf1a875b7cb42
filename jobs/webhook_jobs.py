"""Housekeeping of the webhook inbox: handled events are kept a week for inspection, then pruned."""

from datetime import timedelta

from dagster import Config, OpExecutionContext, Output, job, op
from pydantic import Field

from commerce_core.db.cursors import utcnow
from commerce_core.webhooks import inbox
from resources import CatalogDatabase


class PruneConfig(Config):
    keep_days: int = Field(default=7, ge=1, description="Handled events younger than this stay for inspection.")


@op(description="Delete webhook events a run was requested for, older than keep_days.")
def prune_handled_webhook_events(context: OpExecutionContext, config: PruneConfig, catalog_db: CatalogDatabase):
    with catalog_db.engine.begin() as conn:
        pruned = inbox.prune_handled(conn, utcnow() - timedelta(days=config.keep_days))
    context.log.info(f"pruned {pruned} handled webhook events older than {config.keep_days} days")
    return Output(None, metadata={"pruned": pruned})


@job(description="Prune handled webhook events (daily).", tags={"hub/pipeline": "housekeeping"})
def prune_webhook_events():
    prune_handled_webhook_events()


WEBHOOK_JOBS = [prune_webhook_events]
