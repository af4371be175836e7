"""contracts and customer review flags

Revision ID: 0007
Revises: 0006
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('customers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('record_bidx', sa.String(length=80), nullable=True))
    op.create_table('contract_counters',
    sa.Column('department_id', sa.Uuid(), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('last', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['department_id'], ['departments.id'], name=op.f('fk_contract_counters_department_id_departments')),
    sa.PrimaryKeyConstraint('department_id', 'year', name=op.f('pk_contract_counters'))
    )
    op.create_table('contracts',
    sa.Column('number', sa.String(length=40), nullable=False),
    sa.Column('department_id', sa.Uuid(), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('customer_id', sa.Uuid(), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('handler_id', sa.Uuid(), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_contracts_customer_id_customers')),
    sa.ForeignKeyConstraint(['department_id'], ['departments.id'], name=op.f('fk_contracts_department_id_departments')),
    sa.ForeignKeyConstraint(['handler_id'], ['users.id'], name=op.f('fk_contracts_handler_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_contracts')),
    sa.UniqueConstraint('department_id', 'year', 'seq', name=op.f('uq_contracts_department_id_year_seq')),
    sa.UniqueConstraint('number', name=op.f('uq_contracts_number'))
    )
    with op.batch_alter_table('contracts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_contracts_customer_id'), ['customer_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_contracts_department_id'), ['department_id'], unique=False)

    op.create_table('customer_review_flags',
    sa.Column('customer_id', sa.Uuid(), nullable=False),
    sa.Column('other_customer_id', sa.Uuid(), nullable=False),
    sa.Column('reason', sa.String(length=32), nullable=False),
    sa.Column('score', sa.Integer(), nullable=True),
    sa.Column('resolved_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('resolved_by', sa.Uuid(), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_customer_review_flags_customer_id_customers')),
    sa.ForeignKeyConstraint(['other_customer_id'], ['customers.id'], name=op.f('fk_customer_review_flags_other_customer_id_customers')),
    sa.ForeignKeyConstraint(['resolved_by'], ['users.id'], name=op.f('fk_customer_review_flags_resolved_by_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_customer_review_flags'))
    )
    with op.batch_alter_table('customer_review_flags', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_customer_review_flags_customer_id'), ['customer_id'], unique=False)

    op.create_table('contract_events',
    sa.Column('contract_id', sa.Uuid(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('occurred_on', sa.Date(), nullable=False),
    sa.Column('recorded_by', sa.Uuid(), nullable=True),
    sa.Column('handover_due', sa.Date(), nullable=False),
    sa.Column('handed_over_on', sa.Date(), nullable=True),
    sa.Column('handed_over_to', sa.Uuid(), nullable=True),
    sa.Column('archive_due', sa.Date(), nullable=True),
    sa.Column('archived_on', sa.Date(), nullable=True),
    sa.Column('overdue_flagged_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['contract_id'], ['contracts.id'], name=op.f('fk_contract_events_contract_id_contracts')),
    sa.ForeignKeyConstraint(['handed_over_to'], ['users.id'], name=op.f('fk_contract_events_handed_over_to_users')),
    sa.ForeignKeyConstraint(['recorded_by'], ['users.id'], name=op.f('fk_contract_events_recorded_by_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_contract_events'))
    )
    with op.batch_alter_table('contract_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_contract_events_archive_due'), ['archive_due'], unique=False)
        batch_op.create_index(batch_op.f('ix_contract_events_contract_id'), ['contract_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_contract_events_handover_due'), ['handover_due'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('customers', schema=None) as batch_op:
        batch_op.drop_column('record_bidx')
    with op.batch_alter_table('contract_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_contract_events_handover_due'))
        batch_op.drop_index(batch_op.f('ix_contract_events_contract_id'))
        batch_op.drop_index(batch_op.f('ix_contract_events_archive_due'))

    op.drop_table('contract_events')
    with op.batch_alter_table('customer_review_flags', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_customer_review_flags_customer_id'))

    op.drop_table('customer_review_flags')
    with op.batch_alter_table('contracts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_contracts_department_id'))
        batch_op.drop_index(batch_op.f('ix_contracts_customer_id'))

    op.drop_table('contracts')
    op.drop_table('contract_counters')
