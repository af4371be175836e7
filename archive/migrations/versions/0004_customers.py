"""customers

Revision ID: 0004
Revises: 0003
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table('customers',
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('public_name', sa.String(length=300), nullable=True),
    sa.Column('name_key', sa.String(length=300), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('department_id', sa.Uuid(), nullable=False),
    sa.Column('owner_id', sa.Uuid(), nullable=True),
    sa.Column('grade', sa.String(length=8), nullable=True),
    sa.Column('industry', sa.String(length=100), nullable=True),
    sa.Column('region', sa.String(length=100), nullable=True),
    sa.Column('size_class', sa.String(length=16), nullable=True),
    sa.Column('verification_status', sa.String(length=16), nullable=False),
    sa.Column('risk_level', sa.String(length=16), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by', sa.Uuid(), nullable=True),
    sa.Column('name_ct', sa.LargeBinary(), nullable=True),
    sa.Column('phone_ct', sa.LargeBinary(), nullable=True),
    sa.Column('email_ct', sa.LargeBinary(), nullable=True),
    sa.Column('address_ct', sa.LargeBinary(), nullable=True),
    sa.Column('contact_persons_ct', sa.LargeBinary(), nullable=True),
    sa.Column('id_number_ct', sa.LargeBinary(), nullable=True),
    sa.Column('tax_number_ct', sa.LargeBinary(), nullable=True),
    sa.Column('bank_accounts_ct', sa.LargeBinary(), nullable=True),
    sa.Column('annual_volume_ct', sa.LargeBinary(), nullable=True),
    sa.Column('payment_habits_ct', sa.LargeBinary(), nullable=True),
    sa.Column('receivables_ct', sa.LargeBinary(), nullable=True),
    sa.Column('cooperation_since_ct', sa.LargeBinary(), nullable=True),
    sa.Column('credit_rating_ct', sa.LargeBinary(), nullable=True),
    sa.Column('credit_level_ct', sa.LargeBinary(), nullable=True),
    sa.Column('credit_limit_ct', sa.LargeBinary(), nullable=True),
    sa.Column('financial_statements_ct', sa.LargeBinary(), nullable=True),
    sa.Column('collection_records_ct', sa.LargeBinary(), nullable=True),
    sa.Column('savings_ct', sa.LargeBinary(), nullable=True),
    sa.Column('wealth_products_ct', sa.LargeBinary(), nullable=True),
    sa.Column('fund_holdings_ct', sa.LargeBinary(), nullable=True),
    sa.Column('bond_holdings_ct', sa.LargeBinary(), nullable=True),
    sa.Column('insurance_balances_ct', sa.LargeBinary(), nullable=True),
    sa.Column('insurance_policies_ct', sa.LargeBinary(), nullable=True),
    sa.Column('name_bidx', sa.String(length=80), nullable=True),
    sa.Column('phone_bidx', sa.String(length=80), nullable=True),
    sa.Column('email_bidx', sa.String(length=80), nullable=True),
    sa.Column('id_number_bidx', sa.String(length=80), nullable=True),
    sa.Column('tax_number_bidx', sa.String(length=80), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['created_by'], ['users.id'], name=op.f('fk_customers_created_by_users')),
    sa.ForeignKeyConstraint(['department_id'], ['departments.id'], name=op.f('fk_customers_department_id_departments')),
    sa.ForeignKeyConstraint(['owner_id'], ['users.id'], name=op.f('fk_customers_owner_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_customers')),
    sa.UniqueConstraint('code', name=op.f('uq_customers_code'))
    )
    with op.batch_alter_table('customers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_customers_department_id'), ['department_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_customers_email_bidx'), ['email_bidx'], unique=False)
        batch_op.create_index(batch_op.f('ix_customers_id_number_bidx'), ['id_number_bidx'], unique=False)
        batch_op.create_index(batch_op.f('ix_customers_name_bidx'), ['name_bidx'], unique=False)
        batch_op.create_index(batch_op.f('ix_customers_name_key'), ['name_key'], unique=False)
        batch_op.create_index(batch_op.f('ix_customers_owner_id'), ['owner_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_customers_phone_bidx'), ['phone_bidx'], unique=False)
        batch_op.create_index(batch_op.f('ix_customers_public_name'), ['public_name'], unique=False)
        batch_op.create_index(batch_op.f('ix_customers_tax_number_bidx'), ['tax_number_bidx'], unique=False)

    op.create_table('customer_status_changes',
    sa.Column('customer_id', sa.Uuid(), nullable=False),
    sa.Column('from_status', sa.String(length=16), nullable=True),
    sa.Column('to_status', sa.String(length=16), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('changed_by', sa.Uuid(), nullable=True),
    sa.Column('changed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['changed_by'], ['users.id'], name=op.f('fk_customer_status_changes_changed_by_users')),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_customer_status_changes_customer_id_customers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_customer_status_changes'))
    )
    with op.batch_alter_table('customer_status_changes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_customer_status_changes_customer_id'), ['customer_id'], unique=False)




def downgrade() -> None:

    with op.batch_alter_table('customer_status_changes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_customer_status_changes_customer_id'))

    op.drop_table('customer_status_changes')
    with op.batch_alter_table('customers', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_customers_tax_number_bidx'))
        batch_op.drop_index(batch_op.f('ix_customers_public_name'))
        batch_op.drop_index(batch_op.f('ix_customers_phone_bidx'))
        batch_op.drop_index(batch_op.f('ix_customers_owner_id'))
        batch_op.drop_index(batch_op.f('ix_customers_name_key'))
        batch_op.drop_index(batch_op.f('ix_customers_name_bidx'))
        batch_op.drop_index(batch_op.f('ix_customers_id_number_bidx'))
        batch_op.drop_index(batch_op.f('ix_customers_email_bidx'))
        batch_op.drop_index(batch_op.f('ix_customers_department_id'))

    op.drop_table('customers')

