"""catalog child rows keyed by (product, place): no surrogate ids, one index per table

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-21 14:05:00

A translation is keyed by (product_id, language_code), a price and an image by
(product_id, position): the primary key's index serves the foreign key and
every lookup by product, so a bulk load writes one index entry per row instead
of two (and draws no sequence value). Existing prices keep their order (by id),
images theirs (by sort_order, then id).
"""

from alembic import op
import sqlalchemy as sa


revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None

# SQLite keeps no constraint names: the reflected table gets the schema's, so they can be dropped.
_NAMES = {"pk": "pk_%(table_name)s", "uq": "uq_%(table_name)s_%(column_0_N_name)s"}
_POSITION_ORDER = {"product_prices": "id", "product_images": "sort_order, id"}


def upgrade() -> None:
    with op.batch_alter_table('product_translations', naming_convention=_NAMES) as batch_op:
        batch_op.drop_constraint('uq_product_translations_product_id_language_code', type_='unique')
        batch_op.drop_constraint('pk_product_translations', type_='primary')
        batch_op.drop_column('id')
        batch_op.create_primary_key('pk_product_translations', ['product_id', 'language_code'])

    for table, order in _POSITION_ORDER.items():
        with op.batch_alter_table(table, naming_convention=_NAMES) as batch_op:
            batch_op.add_column(sa.Column('position', sa.SmallInteger(), nullable=True))
        # UPDATE … FROM: one pass on PostgreSQL and on SQLite (3.33+).
        op.execute(
            f"UPDATE {table} SET position = ranked.place FROM "
            f"(SELECT id AS ranked_id, ROW_NUMBER() OVER (PARTITION BY product_id ORDER BY {order}) - 1 AS place "
            f"FROM {table}) AS ranked WHERE ranked.ranked_id = {table}.id")
        with op.batch_alter_table(table, naming_convention=_NAMES) as batch_op:
            batch_op.drop_index(f'ix_{table}_product_id')
            batch_op.drop_constraint(f'pk_{table}', type_='primary')
            batch_op.drop_column('id')
            batch_op.alter_column('position', existing_type=sa.SmallInteger(), nullable=False)
            batch_op.create_primary_key(f'pk_{table}', ['product_id', 'position'])


def downgrade() -> None:
    for table in ("product_images", "product_prices"):
        with op.batch_alter_table(table, naming_convention=_NAMES) as batch_op:
            batch_op.drop_constraint(f'pk_{table}', type_='primary')
        _add_surrogate_id(table)
        with op.batch_alter_table(table, naming_convention=_NAMES) as batch_op:
            batch_op.drop_column('position')
            batch_op.create_index(f'ix_{table}_product_id', ['product_id'], unique=False)

    with op.batch_alter_table('product_translations', naming_convention=_NAMES) as batch_op:
        batch_op.drop_constraint('pk_product_translations', type_='primary')
    _add_surrogate_id('product_translations')
    with op.batch_alter_table('product_translations', naming_convention=_NAMES) as batch_op:
        batch_op.create_unique_constraint('uq_product_translations_product_id_language_code',
                                          ['product_id', 'language_code'])


def _add_surrogate_id(table: str) -> None:
    """The auto-incremented id the table had before."""
    if op.get_context().dialect.name == "postgresql":
        op.execute(f"ALTER TABLE {table} ADD COLUMN id BIGSERIAL")
        op.execute(f"ALTER TABLE {table} ADD CONSTRAINT pk_{table} PRIMARY KEY (id)")
        return
    # SQLite auto-increments a plain INTEGER PRIMARY KEY: the table is rebuilt with one.
    with op.batch_alter_table(table, naming_convention=_NAMES, recreate="always") as batch_op:
        batch_op.add_column(sa.Column('id', sa.Integer(), primary_key=True, autoincrement=True, nullable=False))
