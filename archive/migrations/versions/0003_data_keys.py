"""data keys

Revision ID: 0003
Revises: 0002
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table('data_keys',
    sa.Column('customer_id', sa.Uuid(), nullable=False),
    sa.Column('dek_version', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('wrapped_key', sa.LargeBinary(), nullable=True),
    sa.Column('kek_version', sa.Integer(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('customer_id', 'dek_version', name=op.f('pk_data_keys'))
    )
    with op.batch_alter_table('data_keys', schema=None) as batch_op:
        batch_op.create_index('ix_data_keys_kek', ['kek_version', 'customer_id', 'dek_version'], unique=False)




def downgrade() -> None:

    with op.batch_alter_table('data_keys', schema=None) as batch_op:
        batch_op.drop_index('ix_data_keys_kek')

    op.drop_table('data_keys')

