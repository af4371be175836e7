"""readiness probe scratch table

`/readyz` proves the database takes writes by writing and reading back a row here in a unit of
work (archive/health/), never the chained access log. A few rows at most: each check removes
its process's earlier rows and any left by processes gone for an hour.

Revision ID: 0011
Revises: 0010
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0011'
down_revision: str | None = '0010'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('readiness_probe',
    sa.Column('process', sa.String(length=128), nullable=False),
    sa.Column('checked_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_readiness_probe'))
    )
    with op.batch_alter_table('readiness_probe', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_readiness_probe_process'), ['process'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('readiness_probe', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_readiness_probe_process'))
    op.drop_table('readiness_probe')
