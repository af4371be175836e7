"""partial blind-index indexes, no index on public names

Blind indexes are searched for a value, never for NULL: partial indexes (WHERE … IS NOT NULL)
leave out the rows without one. Public names are compared by a full scan of name_key (fuzzy),
never looked up by an index, and an enterprise's or institution's name is no longer
blind-indexed: the values rows registered earlier carry are cleared, so an individual's name
meets the same set of names whenever the company was registered. (A downgrade leaves them
empty: nothing reads them but the individual-name check.)

Revision ID: 0010
Revises: 0009
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0010'
down_revision: str | None = '0009'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEXED = ("name", "phone", "email", "id_number", "tax_number")


def upgrade() -> None:
    op.execute("UPDATE customers SET name_bidx = NULL WHERE kind IN ('enterprise', 'institution')")
    with op.batch_alter_table('customers', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_customers_name_key'))
        batch_op.drop_index(batch_op.f('ix_customers_public_name'))
        for field in INDEXED:
            batch_op.drop_index(f'ix_customers_{field}_bidx')
            where = sa.text(f'{field}_bidx IS NOT NULL')
            batch_op.create_index(f'ix_customers_{field}_bidx', [f'{field}_bidx'], unique=False,
                                  sqlite_where=where, postgresql_where=where)


def downgrade() -> None:
    with op.batch_alter_table('customers', schema=None) as batch_op:
        for field in INDEXED:
            batch_op.drop_index(f'ix_customers_{field}_bidx')
            batch_op.create_index(f'ix_customers_{field}_bidx', [f'{field}_bidx'], unique=False)
        batch_op.create_index(batch_op.f('ix_customers_public_name'), ['public_name'], unique=False)
        batch_op.create_index(batch_op.f('ix_customers_name_key'), ['name_key'], unique=False)
