"""Next Engine as a Dagster resource (docs/protocols/nextengine.md): a client whose tokens live in the database."""

from __future__ import annotations

from collections.abc import Callable
from typing import Optional

from dagster import ConfigurableResource
from pydantic import Field
from sqlalchemy import Engine

from commerce_core.connectors.nextengine import MAX_LIMIT, NextEngineClient
from commerce_core.http.resilience import CircuitBreaker, ResilientHttpClient, RetrySettings
from commerce_core.settings import load_settings


class NextEngineResource(ConfigurableResource):
    """The shop is NEXTENGINE_STORE_ACCOUNT; its rotating tokens are kept in oauth_tokens, never in config."""

    base_url: Optional[str] = Field(default=None, description="Empty reads NEXTENGINE_BASE_URL at run start.")
    store_account: Optional[str] = Field(default=None, description="Empty reads NEXTENGINE_STORE_ACCOUNT.")
    page_size: int = Field(default=1000, ge=1, le=MAX_LIMIT)
    timeout_seconds: float = 30.0
    max_attempts: int = Field(default=4, ge=1)
    backoff_seconds: float = Field(default=2.0, ge=0)

    def shop(self) -> str:
        return self.store_account or load_settings().nextengine_store_account

    def create_client(self, engine: Engine, on_retry: Callable[[str], None] | None = None) -> NextEngineClient:
        http = ResilientHttpClient(
            (self.base_url or load_settings().nextengine_base_url).rstrip("/"),
            timeout_seconds=self.timeout_seconds,
            retry=RetrySettings(max_attempts=self.max_attempts, backoff_seconds=self.backoff_seconds),
            breaker=CircuitBreaker("nextengine"),
            on_retry=on_retry,
        )
        return NextEngineClient(http, engine, self.shop())
