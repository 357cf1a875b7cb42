"""oauth tokens per platform and shop (Next Engine rotates them on every call)

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-21 07:29:57.310601
"""

from alembic import op
import sqlalchemy as sa
import commerce_core.db.types


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('oauth_tokens',
    sa.Column('platform', sa.String(length=32), nullable=False),
    sa.Column('shop', sa.String(length=128), nullable=False),
    sa.Column('access_token', sa.String(length=512), nullable=False),
    sa.Column('access_token_expires_at', commerce_core.db.types.UtcDateTime(timezone=True), nullable=True),
    sa.Column('refresh_token', sa.String(length=512), nullable=False),
    sa.Column('refresh_token_expires_at', commerce_core.db.types.UtcDateTime(timezone=True), nullable=True),
    sa.Column('rotations', sa.Integer(), nullable=False),
    sa.Column('updated_at', commerce_core.db.types.UtcDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('platform', 'shop', name=op.f('pk_oauth_tokens'))
    )


def downgrade() -> None:
    op.drop_table('oauth_tokens')
