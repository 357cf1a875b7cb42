"""catalog schema

Revision ID: 0001
Revises: 
Create Date: 2026-11-21 05:36:29.961744
"""

from alembic import op
import sqlalchemy as sa
import commerce_core.db.types


revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('enriched_products',
    sa.Column('supplier_id', sa.String(length=32), nullable=False),
    sa.Column('external_id', sa.String(length=128), nullable=False),
    sa.Column('source_hash', sa.String(length=32), nullable=False),
    sa.Column('outcome', sa.String(length=16), nullable=False),
    sa.Column('product', sa.Text(), nullable=True),
    sa.Column('content_hash', sa.String(length=32), nullable=False),
    sa.Column('enriched_at', commerce_core.db.types.UtcDateTime(timezone=True), nullable=False),
    sa.Column('import_job_id', sa.Uuid(), nullable=True),
    sa.PrimaryKeyConstraint('supplier_id', 'external_id', name=op.f('pk_enriched_products'))
    )
    op.create_table('enrichment_cache',
    sa.Column('text_hash', sa.String(length=32), nullable=False),
    sa.Column('enricher', sa.String(length=64), nullable=False),
    sa.Column('result', sa.Text(), nullable=False),
    sa.Column('created_at', commerce_core.db.types.UtcDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('text_hash', 'enricher', name=op.f('pk_enrichment_cache'))
    )
    op.create_table('import_jobs',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('supplier_id', sa.String(length=32), nullable=False),
    sa.Column('mode', sa.String(length=16), nullable=False),
    sa.Column('trigger', sa.String(length=16), nullable=False),
    sa.Column('requested_by', sa.String(length=128), nullable=True),
    sa.Column('product_ids', sa.JSON(), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('dagster_run_id', sa.String(length=64), nullable=True),
    sa.Column('fetched_count', sa.Integer(), nullable=False),
    sa.Column('valid_count', sa.Integer(), nullable=False),
    sa.Column('rejected_count', sa.Integer(), nullable=False),
    sa.Column('enriched_count', sa.Integer(), nullable=False),
    sa.Column('enrichment_failed_count', sa.Integer(), nullable=False),
    sa.Column('inserted_count', sa.Integer(), nullable=False),
    sa.Column('updated_count', sa.Integer(), nullable=False),
    sa.Column('unchanged_count', sa.Integer(), nullable=False),
    sa.Column('archived_count', sa.Integer(), nullable=False),
    sa.Column('error_message', sa.Text(), nullable=True),
    sa.Column('created_at', commerce_core.db.types.UtcDateTime(timezone=True), nullable=False),
    sa.Column('completed_at', commerce_core.db.types.UtcDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_import_jobs'))
    )
    with op.batch_alter_table('import_jobs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_import_jobs_dagster_run_id'), ['dagster_run_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_import_jobs_supplier_id_created_at'), ['supplier_id', 'created_at'], unique=False)

    op.create_table('products',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('supplier_id', sa.String(length=32), nullable=False),
    sa.Column('external_product_id', sa.String(length=128), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('enriched_description', sa.Text(), nullable=True),
    sa.Column('language', sa.String(length=16), nullable=False),
    sa.Column('product_type', sa.String(length=32), nullable=False),
    sa.Column('category', sa.String(length=200), nullable=False),
    sa.Column('available_seats', sa.Integer(), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('is_active', sa.Boolean(), nullable=False),
    sa.Column('tags', sa.JSON(), nullable=False),
    sa.Column('missing_languages', sa.JSON(), nullable=False),
    sa.Column('content_hash', sa.String(length=32), nullable=False),
    sa.Column('source_updated_at', commerce_core.db.types.UtcDateTime(timezone=True), nullable=True),
    sa.Column('created_at', commerce_core.db.types.UtcDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', commerce_core.db.types.UtcDateTime(timezone=True), nullable=False),
    sa.Column('archived_at', commerce_core.db.types.UtcDateTime(timezone=True), nullable=True),
    sa.Column('created_by', sa.String(length=128), nullable=True),
    sa.Column('updated_by', sa.String(length=128), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_products')),
    sa.UniqueConstraint('supplier_id', 'external_product_id', name=op.f('uq_products_supplier_id_external_product_id'))
    )
    with op.batch_alter_table('products', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_products_updated_at'), ['updated_at'], unique=False)

    op.create_table('supplier_records',
    sa.Column('supplier_id', sa.String(length=32), nullable=False),
    sa.Column('external_id', sa.String(length=128), nullable=False),
    sa.Column('payload', sa.Text(), nullable=True),
    sa.Column('payload_hash', sa.String(length=32), nullable=False),
    sa.Column('source_updated_at', commerce_core.db.types.UtcDateTime(timezone=True), nullable=True),
    sa.Column('fetched_at', commerce_core.db.types.UtcDateTime(timezone=True), nullable=False),
    sa.Column('deleted_at', commerce_core.db.types.UtcDateTime(timezone=True), nullable=True),
    sa.Column('import_job_id', sa.Uuid(), nullable=True),
    sa.PrimaryKeyConstraint('supplier_id', 'external_id', name=op.f('pk_supplier_records'))
    )
    op.create_table('sync_cursors',
    sa.Column('name', sa.String(length=128), nullable=False),
    sa.Column('value', sa.String(length=128), nullable=False),
    sa.Column('updated_at', commerce_core.db.types.UtcDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_sync_cursors'))
    )
    op.create_table('validated_products',
    sa.Column('supplier_id', sa.String(length=32), nullable=False),
    sa.Column('external_id', sa.String(length=128), nullable=False),
    sa.Column('source_hash', sa.String(length=32), nullable=False),
    sa.Column('outcome', sa.String(length=16), nullable=False),
    sa.Column('product', sa.Text(), nullable=True),
    sa.Column('content_hash', sa.String(length=32), nullable=False),
    sa.Column('validated_at', commerce_core.db.types.UtcDateTime(timezone=True), nullable=False),
    sa.Column('import_job_id', sa.Uuid(), nullable=True),
    sa.PrimaryKeyConstraint('supplier_id', 'external_id', name=op.f('pk_validated_products'))
    )
    op.create_table('import_rejects',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('import_job_id', sa.Uuid(), nullable=True),
    sa.Column('supplier_id', sa.String(length=32), nullable=False),
    sa.Column('external_id', sa.String(length=128), nullable=True),
    sa.Column('rule', sa.String(length=64), nullable=False),
    sa.Column('message', sa.Text(), nullable=False),
    sa.Column('record', sa.Text(), nullable=True),
    sa.Column('created_at', commerce_core.db.types.UtcDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['import_job_id'], ['import_jobs.id'], name=op.f('fk_import_rejects_import_job_id_import_jobs'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_import_rejects'))
    )
    with op.batch_alter_table('import_rejects', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_import_rejects_import_job_id'), ['import_job_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_import_rejects_supplier_id_external_id'), ['supplier_id', 'external_id'], unique=False)

    op.create_table('product_images',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('product_id', sa.Uuid(), nullable=False),
    sa.Column('url', sa.String(length=1000), nullable=False),
    sa.Column('is_primary', sa.Boolean(), nullable=False),
    sa.Column('sort_order', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['product_id'], ['products.id'], name=op.f('fk_product_images_product_id_products'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_product_images'))
    )
    with op.batch_alter_table('product_images', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_product_images_product_id'), ['product_id'], unique=False)

    op.create_table('product_prices',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('product_id', sa.Uuid(), nullable=False),
    sa.Column('amount', sa.Numeric(precision=18, scale=4).with_variant(commerce_core.db.types.ExactDecimalText(length=40), 'sqlite'), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('price_type', sa.String(length=16), nullable=False),
    sa.Column('valid_from', commerce_core.db.types.UtcDateTime(timezone=True), nullable=True),
    sa.Column('valid_to', commerce_core.db.types.UtcDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['product_id'], ['products.id'], name=op.f('fk_product_prices_product_id_products'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_product_prices'))
    )
    with op.batch_alter_table('product_prices', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_product_prices_product_id'), ['product_id'], unique=False)

    op.create_table('product_translations',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('product_id', sa.Uuid(), nullable=False),
    sa.Column('language_code', sa.String(length=16), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('short_description', sa.String(length=300), nullable=True),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.ForeignKeyConstraint(['product_id'], ['products.id'], name=op.f('fk_product_translations_product_id_products'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_product_translations')),
    sa.UniqueConstraint('product_id', 'language_code', name=op.f('uq_product_translations_product_id_language_code'))
    )


def downgrade() -> None:
    op.drop_table('product_translations')
    with op.batch_alter_table('product_prices', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_product_prices_product_id'))

    op.drop_table('product_prices')
    with op.batch_alter_table('product_images', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_product_images_product_id'))

    op.drop_table('product_images')
    with op.batch_alter_table('import_rejects', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_import_rejects_supplier_id_external_id'))
        batch_op.drop_index(batch_op.f('ix_import_rejects_import_job_id'))

    op.drop_table('import_rejects')
    op.drop_table('validated_products')
    op.drop_table('sync_cursors')
    op.drop_table('supplier_records')
    with op.batch_alter_table('products', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_products_updated_at'))

    op.drop_table('products')
    with op.batch_alter_table('import_jobs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_import_jobs_supplier_id_created_at'))
        batch_op.drop_index(batch_op.f('ix_import_jobs_dagster_run_id'))

    op.drop_table('import_jobs')
    op.drop_table('enrichment_cache')
    op.drop_table('enriched_products')
