"""stock: ledger, levels, reservations, first answers, user order times, inventory sync log

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-21 06:52:05.998400
"""

from alembic import op
import sqlalchemy as sa
import commerce_core.db.types


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('stock_discrepancies',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('checked_at', commerce_core.db.types.UtcDateTime(timezone=True), nullable=False),
    sa.Column('sku', sa.String(length=128), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('details', sa.JSON(), nullable=False),
    sa.Column('dagster_run_id', sa.String(length=64), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_stock_discrepancies'))
    )
    op.create_index(op.f('ix_stock_discrepancies_checked_at'), 'stock_discrepancies', ['checked_at'], unique=False)
    op.create_table('inventory_sync_log',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('platform', sa.String(length=32), nullable=False),
    sa.Column('store_account', sa.String(length=128), nullable=False),
    sa.Column('sku', sa.String(length=128), nullable=False),
    sa.Column('stock', sa.Integer(), nullable=True),
    sa.Column('sent_at', commerce_core.db.types.UtcDateTime(timezone=True), nullable=False),
    sa.Column('signature', sa.String(length=64), nullable=False),
    sa.Column('outcome', sa.String(length=16), nullable=False),
    sa.Column('received_at', commerce_core.db.types.UtcDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_inventory_sync_log')),
    sa.UniqueConstraint('platform', 'store_account', 'sku', 'sent_at', 'signature', name=op.f('uq_inventory_sync_log_platform_store_account_sku_sent_at_signature'))
    )
    op.create_table('stock_answers',
    sa.Column('idempotency_key', sa.String(length=160), nullable=False),
    sa.Column('status_code', sa.Integer(), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('created_at', commerce_core.db.types.UtcDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('idempotency_key', name=op.f('pk_stock_answers'))
    )
    op.create_table('stock_ledger',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('sku', sa.String(length=128), nullable=False),
    sa.Column('entry_type', sa.String(length=16), nullable=False),
    sa.Column('on_hand_delta', sa.BigInteger(), nullable=False),
    sa.Column('reserved_delta', sa.BigInteger(), nullable=False),
    sa.Column('unlimited', sa.Boolean(), nullable=True),
    sa.Column('order_id', sa.String(length=128), nullable=True),
    sa.Column('source', sa.String(length=64), nullable=False),
    sa.Column('created_at', commerce_core.db.types.UtcDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_stock_ledger'))
    )
    with op.batch_alter_table('stock_ledger', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_stock_ledger_sku_id'), ['sku', 'id'], unique=False)

    op.create_table('stock_levels',
    sa.Column('sku', sa.String(length=128), nullable=False),
    sa.Column('on_hand', sa.BigInteger(), nullable=False),
    sa.Column('reserved', sa.BigInteger(), nullable=False),
    sa.Column('unlimited', sa.Boolean(), nullable=False),
    sa.Column('last_push_at', commerce_core.db.types.UtcDateTime(timezone=True), nullable=True),
    sa.Column('updated_at', commerce_core.db.types.UtcDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('sku', name=op.f('pk_stock_levels'))
    )
    op.create_table('stock_reservations',
    sa.Column('order_id', sa.String(length=128), nullable=False),
    sa.Column('sku', sa.String(length=128), nullable=False),
    sa.Column('user_id', sa.String(length=128), nullable=False),
    sa.Column('quantity', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('created_at', commerce_core.db.types.UtcDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', commerce_core.db.types.UtcDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', commerce_core.db.types.UtcDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('order_id', name=op.f('pk_stock_reservations'))
    )
    with op.batch_alter_table('stock_reservations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_stock_reservations_status_expires_at'), ['status', 'expires_at'], unique=False)

    op.create_table('stock_user_orders',
    sa.Column('user_id', sa.String(length=128), nullable=False),
    sa.Column('last_order_at', commerce_core.db.types.UtcDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('user_id', name=op.f('pk_stock_user_orders'))
    )


def downgrade() -> None:
    op.drop_index(op.f('ix_stock_discrepancies_checked_at'), table_name='stock_discrepancies')
    op.drop_table('stock_discrepancies')
    op.drop_table('stock_user_orders')
    with op.batch_alter_table('stock_reservations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_stock_reservations_status_expires_at'))

    op.drop_table('stock_reservations')
    op.drop_table('stock_levels')
    with op.batch_alter_table('stock_ledger', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_stock_ledger_sku_id'))

    op.drop_table('stock_ledger')
    op.drop_table('stock_answers')
    op.drop_table('inventory_sync_log')
