"""The SERP supplier as a Dagster resource (docs/protocols/serp-supplier.md)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Optional

from dagster import ConfigurableResource
from pydantic import Field

from commerce_core.http.resilience import CircuitBreaker, RateLimiter, ResilientHttpClient, RetrySettings
from commerce_core.settings import load_settings
from commerce_core.suppliers.serp import MAX_PAGE_SIZE, HttpSerpSupplierClient, SerpSupplierClient


class SerpSupplierResource(ConfigurableResource):
    """Keep-alive HTTP client of the SERP supplier with retries, circuit breaker and rate limit."""

    base_url: Optional[str] = Field(default=None, description="Empty reads SERP_BASE_URL at run start.")
    api_key: Optional[str] = Field(default=None, description="Secret: pass EnvVar('SERP_API_KEY').")
    page_size: int = Field(default=MAX_PAGE_SIZE, ge=1, le=MAX_PAGE_SIZE)
    concurrency: int = Field(default=4, ge=1, le=16, description="Pages fetched at once after the first.")
    timeout_seconds: float = 30.0
    max_attempts: int = Field(default=4, ge=1, description="First try plus retries (2, 4, 8 s backoff).")
    backoff_seconds: float = Field(default=2.0, ge=0)
    circuit_failure_threshold: int = 5
    circuit_reset_seconds: float = 60.0
    requests_per_second: float = Field(default=50.0, description="Our own rate limit; 0 = unlimited.")

    def create_client(self, on_retry: Callable[[str], None] | None = None) -> SerpSupplierClient:
        """A new client; the caller closes it."""
        settings = load_settings()
        http = ResilientHttpClient(
            self.base_url or settings.serp_base_url,
            headers={"X-Api-Key": self.api_key or settings.serp_api_key, "Accept": "application/json"},
            timeout_seconds=self.timeout_seconds,
            retry=RetrySettings(max_attempts=self.max_attempts, backoff_seconds=self.backoff_seconds),
            breaker=CircuitBreaker("serp", self.circuit_failure_threshold, self.circuit_reset_seconds),
            limiter=RateLimiter(self.requests_per_second, burst=self.concurrency),
            max_connections=self.concurrency,
            on_retry=on_retry,
        )
        return HttpSerpSupplierClient(http)
