"""e-invoicing: tenants, E0501 number pools, upload log, invoices (monthly partitions on PostgreSQL)

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-21 08:35:08.855075
"""

from alembic import op
import sqlalchemy as sa
import commerce_core.db.types


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('invoice_number_pools',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.Column('period', sa.String(length=5), nullable=False),
    sa.Column('invoice_type', sa.String(length=2), nullable=False),
    sa.Column('track', sa.String(length=2), nullable=False),
    sa.Column('begin_no', sa.Integer(), nullable=False),
    sa.Column('end_no', sa.Integer(), nullable=False),
    sa.Column('next_no', sa.Integer(), nullable=False),
    sa.Column('booklets', sa.Integer(), nullable=False),
    sa.Column('source', sa.String(length=500), nullable=False),
    sa.Column('created_at', commerce_core.db.types.UtcDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_invoice_number_pools')),
    sa.UniqueConstraint('period', 'track', 'begin_no', name=op.f('uq_invoice_number_pools_period_track_begin_no'))
    )
    with op.batch_alter_table('invoice_number_pools', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_invoice_number_pools_tenant_id_period_invoice_type'), ['tenant_id', 'period', 'invoice_type'], unique=False)

    op.create_table('invoice_upload_files',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.Column('file_name', sa.String(length=500), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('size_bytes', sa.BigInteger(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('rows', sa.Integer(), nullable=False),
    sa.Column('invoices', sa.Integer(), nullable=False),
    sa.Column('accepted', sa.Integer(), nullable=False),
    sa.Column('rejected', sa.Integer(), nullable=False),
    sa.Column('message', sa.Text(), nullable=True),
    sa.Column('run_id', sa.String(length=64), nullable=True),
    sa.Column('processed_at', commerce_core.db.types.UtcDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_invoice_upload_files')),
    sa.UniqueConstraint('tenant_id', 'kind', 'sha256', name=op.f('uq_invoice_upload_files_tenant_id_kind_sha256'))
    )
    with op.batch_alter_table('invoice_upload_files', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_invoice_upload_files_tenant_id_id'), ['tenant_id', 'id'], unique=False)

    op.create_table('invoice_upload_rejects',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('upload_id', sa.BigInteger(), nullable=False),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.Column('order_id', sa.String(length=64), nullable=False),
    sa.Column('row_numbers', sa.Text(), nullable=False),
    sa.Column('rule', sa.String(length=32), nullable=False),
    sa.Column('message', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_invoice_upload_rejects'))
    )
    with op.batch_alter_table('invoice_upload_rejects', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_invoice_upload_rejects_tenant_id_upload_id_id'), ['tenant_id', 'upload_id', 'id'], unique=False)

    op.create_table('invoices',
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.Column('invoice_date', sa.Date(), nullable=False),
    sa.Column('order_id', sa.String(length=20), nullable=False),
    sa.Column('upload_id', sa.BigInteger(), nullable=False),
    sa.Column('period', sa.String(length=5), nullable=False),
    sa.Column('invoice_time', sa.String(length=8), nullable=False),
    sa.Column('buyer_ban', sa.String(length=10), nullable=False),
    sa.Column('buyer_name', sa.String(length=60), nullable=False),
    sa.Column('carrier_type', sa.String(length=6), nullable=False),
    sa.Column('carrier_id', sa.String(length=64), nullable=False),
    sa.Column('donate_mark', sa.String(length=1), nullable=False),
    sa.Column('npoban', sa.String(length=10), nullable=False),
    sa.Column('print_mark', sa.String(length=1), nullable=False),
    sa.Column('customs_clearance_mark', sa.String(length=1), nullable=False),
    sa.Column('zero_tax_rate_reason', sa.String(length=2), nullable=False),
    sa.Column('items', sa.Text(), nullable=False),
    sa.Column('sales_amount', sa.BigInteger(), nullable=False),
    sa.Column('free_tax_sales_amount', sa.BigInteger(), nullable=False),
    sa.Column('zero_tax_sales_amount', sa.BigInteger(), nullable=False),
    sa.Column('tax_amount', sa.BigInteger(), nullable=False),
    sa.Column('total_amount', sa.BigInteger(), nullable=False),
    sa.Column('tax_type', sa.String(length=1), nullable=False),
    sa.Column('tax_rate', sa.String(length=6), nullable=False),
    sa.Column('invoice_number', sa.String(length=10), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('file_sha256', sa.String(length=64), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('uploaded_at', commerce_core.db.types.UtcDateTime(timezone=True), nullable=True),
    sa.Column('next_attempt_at', commerce_core.db.types.UtcDateTime(timezone=True), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('created_at', commerce_core.db.types.UtcDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('tenant_id', 'invoice_date', 'order_id', name=op.f('pk_invoices')),
    postgresql_partition_by='RANGE (invoice_date)'
    )
    with op.batch_alter_table('invoices', schema=None) as batch_op:
        batch_op.create_index('ix_invoices_open_status', ['status'], unique=False, postgresql_where=sa.text("status <> 'confirmed'"), sqlite_where=sa.text("status <> 'confirmed'"))
        batch_op.create_index(batch_op.f('ix_invoices_tenant_id_invoice_number'), ['tenant_id', 'invoice_number'], unique=False)

    op.create_table('tenants',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('ban', sa.String(length=8), nullable=False),
    sa.Column('name', sa.String(length=60), nullable=False),
    sa.Column('address', sa.String(length=100), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('created_at', commerce_core.db.types.UtcDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_tenants')),
    sa.UniqueConstraint('ban', name=op.f('uq_tenants_ban'))
    )


def downgrade() -> None:
    op.drop_table('tenants')
    with op.batch_alter_table('invoices', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_invoices_tenant_id_invoice_number'))
        batch_op.drop_index('ix_invoices_open_status', postgresql_where=sa.text("status <> 'confirmed'"), sqlite_where=sa.text("status <> 'confirmed'"))

    op.drop_table('invoices')
    with op.batch_alter_table('invoice_upload_rejects', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_invoice_upload_rejects_tenant_id_upload_id_id'))

    op.drop_table('invoice_upload_rejects')
    with op.batch_alter_table('invoice_upload_files', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_invoice_upload_files_tenant_id_id'))

    op.drop_table('invoice_upload_files')
    with op.batch_alter_table('invoice_number_pools', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_invoice_number_pools_tenant_id_period_invoice_type'))

    op.drop_table('invoice_number_pools')
