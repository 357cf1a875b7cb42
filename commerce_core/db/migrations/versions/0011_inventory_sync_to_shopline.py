"""inventory sync to Shopline: sync status on inventory_sync_log, shopline_variants

Revision ID: 0011
Revises: 0010_webhook_events_run_id
Create Date: 2026-11-21 10:29:56.454383
"""

from alembic import op
import sqlalchemy as sa
import commerce_core.db.types


revision = '0011'
down_revision = '0010_webhook_events_run_id'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('shopline_variants',
    sa.Column('variant_id', sa.String(length=64), nullable=False),
    sa.Column('sku', sa.String(length=128), nullable=False),
    sa.Column('product_id', sa.String(length=64), nullable=False),
    sa.Column('inventory_item_id', sa.String(length=64), nullable=True),
    sa.Column('updated_at', commerce_core.db.types.UtcDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('variant_id', name=op.f('pk_shopline_variants'))
    )
    with op.batch_alter_table('shopline_variants', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_shopline_variants_product_id'), ['product_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_shopline_variants_sku'), ['sku'], unique=False)

    with op.batch_alter_table('inventory_sync_log', schema=None) as batch_op:
        batch_op.add_column(sa.Column('sync_status', sa.String(length=16), server_default='pending', nullable=False))
        batch_op.add_column(sa.Column('synced_to_shopline', sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column('retry_count', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('next_attempt_at', commerce_core.db.types.UtcDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('processed_at', commerce_core.db.types.UtcDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('error_message', sa.Text(), nullable=True))
        batch_op.create_index(batch_op.f('ix_inventory_sync_log_sku_sync_status'), ['sku', 'sync_status'], unique=False)
        batch_op.create_index(batch_op.f('ix_inventory_sync_log_sync_status_next_attempt_at'), ['sync_status', 'next_attempt_at'], unique=False)
    # Pushes logged before this sync existed are history, not work: sending a weeks-old level now
    # would overwrite Shopline's current stock. Only pushes arriving from now on are sent.
    op.execute("UPDATE inventory_sync_log SET sync_status = 'skipped', "
               "error_message = 'logged before the Shopline inventory sync existed'")



def downgrade() -> None:
    with op.batch_alter_table('inventory_sync_log', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_inventory_sync_log_sync_status_next_attempt_at'))
        batch_op.drop_index(batch_op.f('ix_inventory_sync_log_sku_sync_status'))
        batch_op.drop_column('error_message')
        batch_op.drop_column('processed_at')
        batch_op.drop_column('next_attempt_at')
        batch_op.drop_column('retry_count')
        batch_op.drop_column('synced_to_shopline')
        batch_op.drop_column('sync_status')

    with op.batch_alter_table('shopline_variants', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_shopline_variants_sku'))
        batch_op.drop_index(batch_op.f('ix_shopline_variants_product_id'))

    op.drop_table('shopline_variants')
