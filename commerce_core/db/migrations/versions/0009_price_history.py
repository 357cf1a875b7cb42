"""monitoring: daily price history and price alerts

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-21 09:35:53.651997
"""

from alembic import op
import sqlalchemy as sa
import commerce_core.db.types


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('price_alerts',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('alert_key', sa.String(length=200), nullable=False),
    sa.Column('snapshot_date', sa.Date(), nullable=False),
    sa.Column('product_id', sa.Uuid(), nullable=False),
    sa.Column('external_product_id', sa.String(length=128), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=True),
    sa.Column('price_type', sa.String(length=16), nullable=True),
    sa.Column('previous_value', sa.Numeric(precision=18, scale=4).with_variant(commerce_core.db.types.ExactDecimalText(length=40), 'sqlite'), nullable=True),
    sa.Column('current_value', sa.Numeric(precision=18, scale=4).with_variant(commerce_core.db.types.ExactDecimalText(length=40), 'sqlite'), nullable=True),
    sa.Column('change_pct', sa.Numeric(precision=18, scale=4).with_variant(commerce_core.db.types.ExactDecimalText(length=40), 'sqlite'), nullable=True),
    sa.Column('created_at', commerce_core.db.types.UtcDateTime(timezone=True), nullable=False),
    sa.Column('sent_at', commerce_core.db.types.UtcDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_price_alerts')),
    sa.UniqueConstraint('alert_key', name=op.f('uq_price_alerts_alert_key'))
    )
    with op.batch_alter_table('price_alerts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_price_alerts_snapshot_date_sent_at'), ['snapshot_date', 'sent_at'], unique=False)

    op.create_table('price_history',
    sa.Column('snapshot_date', sa.Date(), nullable=False),
    sa.Column('product_id', sa.Uuid(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('price_type', sa.String(length=16), nullable=False),
    sa.Column('amount', sa.Numeric(precision=18, scale=4).with_variant(commerce_core.db.types.ExactDecimalText(length=40), 'sqlite'), nullable=False),
    sa.Column('available_seats', sa.Integer(), nullable=True),
    sa.Column('recorded_at', commerce_core.db.types.UtcDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('snapshot_date', 'product_id', 'currency', 'price_type', name=op.f('pk_price_history'))
    )
    with op.batch_alter_table('price_history', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_price_history_product_id_snapshot_date'), ['product_id', 'snapshot_date'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('price_history', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_price_history_product_id_snapshot_date'))

    op.drop_table('price_history')
    with op.batch_alter_table('price_alerts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_price_alerts_snapshot_date_sent_at'))

    op.drop_table('price_alerts')
