"""The catalog database as a Dagster resource."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Optional

from dagster import ConfigurableResource, InitResourceContext
from pydantic import Field, PrivateAttr
from sqlalchemy import Engine

from commerce_core.bulk_work import worker_processes
from commerce_core.db.engine import get_engine
from commerce_core.db.migrate import upgrade
from commerce_core.settings import load_settings


class CatalogDatabase(ConfigurableResource):
    """SQLAlchemy engine of the catalog database, migrated to head when a run starts, and the worker
    processes the bulk stages start on it, which live exactly as long as the resource: one step under
    the multiprocess executor, the whole run under the in-process executor. They are stopped when
    the step ends, fails or is cancelled."""

    database_url: Optional[str] = Field(
        default=None, description="SQLAlchemy URL; empty reads HUB_DATABASE_URL (or the local SQLite) at run start."
    )
    apply_migrations: bool = Field(default=True, description="Run `hub db upgrade` before the run uses the database.")
    workers: int = Field(
        default=os.cpu_count() or 1, ge=1,
        description="Processes that validate, enrich and write pending products side by side (PostgreSQL only; "
        "SQLite has one writer).",
    )
    batch_size: int = Field(default=10_000, ge=1, description="Products per transaction in the catalog stages.")

    _engine: Optional[Engine] = PrivateAttr(default=None)

    def resolved_url(self) -> str:
        return self.database_url or load_settings().database_url

    def setup_for_execution(self, context: InitResourceContext) -> None:
        url = self.resolved_url()
        if self.apply_migrations:
            upgrade(url)
        self._engine = get_engine(url)

    @contextmanager
    def yield_for_execution(self, context: InitResourceContext) -> Iterator["CatalogDatabase"]:
        self.setup_for_execution(context)
        with worker_processes():
            yield self

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            self._engine = get_engine(self.resolved_url())
        return self._engine
