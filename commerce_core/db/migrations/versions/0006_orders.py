"""orders, order lines and customers from the commerce platforms (the connector design, docs/background.md)

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-21 07:51:32.674742
"""

from alembic import op
import sqlalchemy as sa
import commerce_core.db.types


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('customers',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('platform', sa.String(length=32), nullable=False),
    sa.Column('email', sa.String(length=320), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('platform_customer_id', sa.String(length=64), nullable=True),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('order_count', sa.Integer(), nullable=False),
    sa.Column('total_spent', sa.Numeric(precision=18, scale=4).with_variant(commerce_core.db.types.ExactDecimalText(length=40), 'sqlite'), nullable=False),
    sa.Column('updated_at', commerce_core.db.types.UtcDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_customers')),
    sa.UniqueConstraint('platform', 'email', name=op.f('uq_customers_platform_email'))
    )
    op.create_table('orders',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('platform', sa.String(length=32), nullable=False),
    sa.Column('external_id', sa.String(length=64), nullable=False),
    sa.Column('order_number', sa.String(length=64), nullable=False),
    sa.Column('customer_id', sa.Uuid(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('subtotal', sa.Numeric(precision=18, scale=4).with_variant(commerce_core.db.types.ExactDecimalText(length=40), 'sqlite'), nullable=False),
    sa.Column('total', sa.Numeric(precision=18, scale=4).with_variant(commerce_core.db.types.ExactDecimalText(length=40), 'sqlite'), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('payment_status', sa.String(length=16), nullable=False),
    sa.Column('fulfillment_status', sa.String(length=16), nullable=False),
    sa.Column('ordered_at', commerce_core.db.types.UtcDateTime(timezone=True), nullable=False),
    sa.Column('content_hash', sa.String(length=32), nullable=False),
    sa.Column('updated_at', commerce_core.db.types.UtcDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_orders_customer_id_customers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_orders')),
    sa.UniqueConstraint('platform', 'external_id', name=op.f('uq_orders_platform_external_id'))
    )
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_orders_ordered_at'), ['ordered_at'], unique=False)

    op.create_table('order_lines',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('order_id', sa.Uuid(), nullable=False),
    sa.Column('line_no', sa.Integer(), nullable=False),
    sa.Column('sku', sa.String(length=128), nullable=False),
    sa.Column('quantity', sa.Integer(), nullable=False),
    sa.Column('unit_price', sa.Numeric(precision=18, scale=4).with_variant(commerce_core.db.types.ExactDecimalText(length=40), 'sqlite'), nullable=False),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_order_lines_order_id_orders'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_order_lines'))
    )
    with op.batch_alter_table('order_lines', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_order_lines_order_id'), ['order_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('order_lines', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_order_lines_order_id'))

    op.drop_table('order_lines')
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_orders_ordered_at'))

    op.drop_table('orders')
    op.drop_table('customers')
