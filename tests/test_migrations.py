"""The Alembic migrations build exactly the schema the code uses, and go down and up again."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from commerce_core.db.engine import get_engine
from commerce_core.db.migrate import alembic_config, current_revision, upgrade
from commerce_core.db.schema import metadata


def _differences(url: str) -> list:
    with get_engine(url).connect() as conn:
        return compare_metadata(MigrationContext.configure(conn), metadata)


def test_migrations_match_the_schema_and_round_trip(database_url):
    # database_url is already upgraded to head by the fixture.
    assert _differences(database_url) == []
    head = current_revision(database_url)
    command.downgrade(alembic_config(database_url), "base")
    assert current_revision(database_url) is None
    upgrade(database_url)
    assert current_revision(database_url) == head
    assert _differences(database_url) == []
