"""The stock service's Redis as a Dagster resource (reconciliation reads and repairs it)."""

from __future__ import annotations

from typing import Optional

import redis
from dagster import ConfigurableResource
from pydantic import Field

from commerce_core.settings import load_settings


class StockRedisResource(ConfigurableResource):
    """Empty (and HUB_REDIS_URL unset) means the service runs database-only: nothing to reconcile in Redis."""

    redis_url: Optional[str] = Field(default=None, description="Empty reads HUB_REDIS_URL at run start.")

    def create_client(self) -> redis.Redis | None:
        url = self.redis_url or load_settings().redis_url
        return redis.Redis.from_url(url, decode_responses=True) if url else None
