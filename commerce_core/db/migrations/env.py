"""Alembic environment: the URL comes from the caller (commerce_core.db.migrate) or HUB_DATABASE_URL."""

from alembic import context

from commerce_core.db.engine import get_engine
from commerce_core.db.schema import metadata
from commerce_core.settings import load_settings

config = context.config
url = config.attributes.get("database_url") or load_settings().database_url

with get_engine(url).connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()
