"""Product enrichment as a Dagster resource: offline by default, an OpenAI-compatible LLM when configured."""

from __future__ import annotations

from typing import Optional

from dagster import ConfigurableResource
from pydantic import Field

from commerce_core.catalog.enrichment import Enricher, LlmEnricher, OfflineEnricher
from commerce_core.http.resilience import CircuitBreaker, ResilientHttpClient, RetrySettings
from commerce_core.settings import load_settings


class EnricherResource(ConfigurableResource):
    """Empty LLM settings (the default) mean the offline enricher: supplier text and rules only."""

    llm_base_url: Optional[str] = Field(default=None, description="Empty reads HUB_LLM_BASE_URL at run start.")
    llm_api_key: Optional[str] = Field(default=None, description="Secret: pass EnvVar('HUB_LLM_API_KEY').")
    llm_model: Optional[str] = Field(default=None, description="Empty reads HUB_LLM_MODEL at run start.")
    concurrency: int = Field(default=8, ge=1, description="LLM requests in flight.")
    timeout_seconds: float = 60.0
    max_attempts: int = 3
    backoff_seconds: float = 2.0

    def create_enricher(self) -> Enricher:
        settings = load_settings()
        base_url = self.llm_base_url or settings.llm_base_url
        if not base_url:
            return OfflineEnricher()
        headers = {}
        api_key = self.llm_api_key or settings.llm_api_key
        if api_key:
            headers["Authorization"] = f"Bearer {api_key}"
        http = ResilientHttpClient(
            base_url.rstrip("/"),
            headers=headers,
            timeout_seconds=self.timeout_seconds,
            retry=RetrySettings(max_attempts=self.max_attempts, backoff_seconds=self.backoff_seconds),
            breaker=CircuitBreaker("llm"),
            max_connections=self.concurrency,
        )
        return LlmEnricher(http, model=self.llm_model or settings.llm_model or "gpt-4o-mini")
