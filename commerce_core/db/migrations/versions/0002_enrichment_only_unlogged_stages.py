"""enriched_products keeps the enrichment only; derived stage tables unlogged on PostgreSQL

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21 06:20:00

The central catalog now joins validated_products.product with
enriched_products.enrichment, so the enriched stage no longer stores the whole
product again. Its rows are derived, so they are dropped and rebuilt by the
next run.

validated_products and enriched_products are rebuilt from supplier_records
whenever they are missing (each stage works on what differs from upstream), so
on PostgreSQL they skip the write-ahead log: after a server crash they come back
empty and the next run re-derives them without changing the catalog.
supplier_records stays logged: full-sync deletions are detected against it.
"""

from alembic import op
import sqlalchemy as sa
import commerce_core.db.types


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None

_UNLOGGED = ("validated_products", "enriched_products")


def _create_enriched_products(content_column: str) -> None:
    op.create_table('enriched_products',
    sa.Column('supplier_id', sa.String(length=32), nullable=False),
    sa.Column('external_id', sa.String(length=128), nullable=False),
    sa.Column('source_hash', sa.String(length=32), nullable=False),
    sa.Column('outcome', sa.String(length=16), nullable=False),
    sa.Column(content_column, sa.Text(), nullable=True),
    sa.Column('content_hash', sa.String(length=32), nullable=False),
    sa.Column('enriched_at', commerce_core.db.types.UtcDateTime(timezone=True), nullable=False),
    sa.Column('import_job_id', sa.Uuid(), nullable=True),
    sa.PrimaryKeyConstraint('supplier_id', 'external_id', name=op.f('pk_enriched_products'))
    )


def _set_logging(logged: bool) -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in _UNLOGGED:
            op.execute(f"ALTER TABLE {table} SET {'LOGGED' if logged else 'UNLOGGED'}")


def upgrade() -> None:
    op.drop_table('enriched_products')
    _create_enriched_products('enrichment')
    _set_logging(logged=False)


def downgrade() -> None:
    _set_logging(logged=True)
    op.drop_table('enriched_products')
    _create_enriched_products('product')
