"""Shopline as a Dagster resource (docs/protocols/shopline.md)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Optional

from dagster import ConfigurableResource
from pydantic import Field

from commerce_core.connectors.shopline import MAX_GRAPHQL_FIRST, ShoplineClient
from commerce_core.http.resilience import CircuitBreaker, ResilientHttpClient, RetrySettings
from commerce_core.settings import load_settings


class ShoplineResource(ConfigurableResource):
    base_url: Optional[str] = Field(default=None, description="Empty reads SHOPLINE_BASE_URL at run start.")
    access_token: Optional[str] = Field(default=None, description="Secret: pass EnvVar('SHOPLINE_ACCESS_TOKEN').")
    api_version: str = "v20230901"
    page_size: int = Field(default=MAX_GRAPHQL_FIRST, ge=1, le=MAX_GRAPHQL_FIRST)
    timeout_seconds: float = 30.0
    max_attempts: int = Field(default=4, ge=1)
    backoff_seconds: float = Field(default=2.0, ge=0)
    inventory_location_id: Optional[str] = Field(
        default=None, description="Where pushed stock is set (inventory_levels/set.json); empty: the store's "
        "default location, read from locations/list.json.")

    def create_client(self, on_retry: Callable[[str], None] | None = None) -> ShoplineClient:
        settings = load_settings()
        http = ResilientHttpClient(
            (self.base_url or settings.shopline_base_url).rstrip("/"),
            headers={"Authorization": f"Bearer {self.access_token or settings.shopline_access_token}"},
            timeout_seconds=self.timeout_seconds,
            retry=RetrySettings(max_attempts=self.max_attempts, backoff_seconds=self.backoff_seconds),
            breaker=CircuitBreaker("shopline"),
            on_retry=on_retry,
        )
        return ShoplineClient(http, self.api_version)
