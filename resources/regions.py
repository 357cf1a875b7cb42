"""Regional sites as Dagster resources: region configuration and clients, FX rates, and the notifier."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Optional

from dagster import ConfigurableResource
from pydantic import Field

from commerce_core.http.resilience import CircuitBreaker, ResilientHttpClient, RetrySettings
from commerce_core.notify import LogNotifier, Notifier, WebhookNotifier
from commerce_core.regions.client import HttpRegionProductsClient, RegionProductsClient
from commerce_core.regions.config import RegionConfig, RegionsFile, load_regions
from commerce_core.regions.fx import FxRates
from commerce_core.settings import ConfigurationError, load_settings


class RegionsResource(ConfigurableResource):
    """The regions file (HUB_REGIONS_FILE, default config/regions.toml) and one client per region.

    URLs and API keys come from REGION_<CODE>_URL / REGION_<CODE>_API_KEY at run
    start, never from run config. Each client has its own circuit breaker, so a
    broken region never opens another region's circuit.
    """

    regions_file: Optional[str] = Field(default=None, description="Empty reads HUB_REGIONS_FILE at run start.")
    concurrency: int = Field(default=8, ge=1, le=64, description="Batches in flight per region.")
    timeout_seconds: float = 30.0
    max_attempts: int = Field(default=4, ge=1, description="First try plus retries (2, 4, 8 s backoff).")
    backoff_seconds: float = Field(default=2.0, ge=0)
    circuit_failure_threshold: int = 5
    circuit_reset_seconds: float = 60.0

    def load(self) -> RegionsFile:
        return load_regions(Path(self.regions_file) if self.regions_file else None)

    def create_client(self, region: RegionConfig, on_retry: Callable[[str], None] | None = None) -> RegionProductsClient:
        http = ResilientHttpClient(
            region.base_url,
            headers={"X-Api-Key": region.api_key, "X-Source": "GlobalHub", "Accept": "application/json"},
            timeout_seconds=self.timeout_seconds,
            retry=RetrySettings(max_attempts=self.max_attempts, backoff_seconds=self.backoff_seconds),
            breaker=CircuitBreaker(f"region-{region.code}", self.circuit_failure_threshold,
                                   self.circuit_reset_seconds),
            max_connections=self.concurrency,
            on_retry=on_retry,
        )
        return HttpRegionProductsClient(http)


class FxRatesResource(ConfigurableResource):
    """Units of each currency per TWD. Empty means the static table of the regions file."""

    per_twd: Optional[dict[str, str]] = Field(default=None, description='e.g. {"TWD": "1", "USD": "0.0317"}')

    def rates(self, regions: RegionsFile) -> FxRates:
        if not self.per_twd:
            return regions.fx
        try:
            return FxRates({currency: Decimal(rate) for currency, rate in self.per_twd.items()})
        except (InvalidOperation, ValueError) as error:
            raise ConfigurationError(f"FX rates must be positive decimal strings, got {self.per_twd}: {error}") from None


class NotifierResource(ConfigurableResource):
    """Alerts: POST to HUB_NOTIFY_WEBHOOK_URL when set, else the run log."""

    webhook_url: Optional[str] = Field(default=None, description="Empty reads HUB_NOTIFY_WEBHOOK_URL at run start.")
    max_attempts: int = 3
    backoff_seconds: float = 1.0

    def create_notifier(self, log: Callable[[str], None]) -> Notifier:
        fallback = LogNotifier(log)
        url = self.webhook_url or load_settings().notify_webhook_url
        if not url:
            return fallback
        http = ResilientHttpClient("", timeout_seconds=10,
                                   retry=RetrySettings(max_attempts=self.max_attempts,
                                                       backoff_seconds=self.backoff_seconds),
                                   breaker=CircuitBreaker("notify"))
        return WebhookNotifier(http, url, fallback)
