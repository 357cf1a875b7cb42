"""regional distribution: region sync logs, deliveries, dead-letter queue; keyset index on products

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-21 06:40:00
"""

from alembic import op
import sqlalchemy as sa
import commerce_core.db.types


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index(op.f('ix_products_updated_at'), table_name='products')
    op.create_index(op.f('ix_products_updated_at_id'), 'products', ['updated_at', 'id'], unique=False)
    op.create_table('region_sync_logs',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('region_code', sa.String(length=16), nullable=False),
    sa.Column('dagster_run_id', sa.String(length=64), nullable=True),
    sa.Column('trigger', sa.String(length=16), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('considered_count', sa.Integer(), nullable=False),
    sa.Column('sent_count', sa.Integer(), nullable=False),
    sa.Column('created_count', sa.Integer(), nullable=False),
    sa.Column('updated_count', sa.Integer(), nullable=False),
    sa.Column('kept_regional_count', sa.Integer(), nullable=False),
    sa.Column('failed_count', sa.Integer(), nullable=False),
    sa.Column('dead_lettered_count', sa.Integer(), nullable=False),
    sa.Column('untranslated_count', sa.Integer(), nullable=False),
    sa.Column('error_message', sa.Text(), nullable=True),
    sa.Column('started_at', commerce_core.db.types.UtcDateTime(timezone=True), nullable=False),
    sa.Column('completed_at', commerce_core.db.types.UtcDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_region_sync_logs'))
    )
    op.create_index(op.f('ix_region_sync_logs_region_code_started_at'), 'region_sync_logs',
                    ['region_code', 'started_at'], unique=False)
    op.create_table('region_deliveries',
    sa.Column('region_code', sa.String(length=16), nullable=False),
    sa.Column('product_id', sa.Uuid(), nullable=False),
    sa.Column('content_hash', sa.String(length=32), nullable=False),
    sa.Column('outcome', sa.String(length=16), nullable=False),
    sa.Column('delivered_at', commerce_core.db.types.UtcDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('region_code', 'product_id', name=op.f('pk_region_deliveries'))
    )
    op.create_table('dead_letters',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('entity_type', sa.String(length=32), nullable=False),
    sa.Column('entity_id', sa.String(length=64), nullable=False),
    sa.Column('target_region', sa.String(length=16), nullable=False),
    sa.Column('payload', sa.Text(), nullable=True),
    sa.Column('error_message', sa.Text(), nullable=False),
    sa.Column('http_status', sa.Integer(), nullable=True),
    sa.Column('failed_at', commerce_core.db.types.UtcDateTime(timezone=True), nullable=False),
    sa.Column('retry_count', sa.Integer(), nullable=False),
    sa.Column('last_retry_at', commerce_core.db.types.UtcDateTime(timezone=True), nullable=True),
    sa.Column('alerted_at', commerce_core.db.types.UtcDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_dead_letters')),
    sa.UniqueConstraint('entity_type', 'entity_id', 'target_region',
                        name=op.f('uq_dead_letters_entity_type_entity_id_target_region'))
    )
    op.create_index(op.f('ix_dead_letters_target_region_failed_at'), 'dead_letters',
                    ['target_region', 'failed_at'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_dead_letters_target_region_failed_at'), table_name='dead_letters')
    op.drop_table('dead_letters')
    op.drop_table('region_deliveries')
    op.drop_index(op.f('ix_region_sync_logs_region_code_started_at'), table_name='region_sync_logs')
    op.drop_table('region_sync_logs')
    op.drop_index(op.f('ix_products_updated_at_id'), table_name='products')
    op.create_index(op.f('ix_products_updated_at'), 'products', ['updated_at'], unique=False)
