"""webhook inbox: each event keeps the id of the run that handled it (issue 6)

Revision ID: 0010_webhook_events_run_id
Revises: 0009
Create Date: 2026-11-22 10:00:00.000000
"""

from alembic import op
import sqlalchemy as sa


revision = '0010_webhook_events_run_id'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('webhook_events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('run_id', sa.String(length=64), nullable=True))
        batch_op.create_index(batch_op.f('ix_webhook_events_run_key'), ['run_key'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('webhook_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_webhook_events_run_key'))
        batch_op.drop_column('run_id')
