"""customer corrections

Revision ID: 0006
Revises: 0005
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('customer_corrections',
    sa.Column('customer_id', sa.Uuid(), nullable=False),
    sa.Column('field', sa.String(length=64), nullable=False),
    sa.Column('previous_ct', sa.LargeBinary(), nullable=True),
    sa.Column('previous_clear', sa.String(length=300), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('purpose', sa.String(length=64), nullable=False),
    sa.Column('changed_by', sa.Uuid(), nullable=True),
    sa.Column('changed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['changed_by'], ['users.id'], name=op.f('fk_customer_corrections_changed_by_users')),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_customer_corrections_customer_id_customers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_customer_corrections'))
    )
    with op.batch_alter_table('customer_corrections', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_customer_corrections_customer_id'), ['customer_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('customer_corrections', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_customer_corrections_customer_id'))

    op.drop_table('customer_corrections')
