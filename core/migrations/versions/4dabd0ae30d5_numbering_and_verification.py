"""numbering and verification

Revision ID: 4dabd0ae30d5
Revises: 81160c958417
Create Date: 2026-12-03 16:55:28.929617
"""
from alembic import op
import sqlalchemy as sa


revision = '4dabd0ae30d5'
down_revision = '81160c958417'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('number_counter',
    sa.Column('scope_key', sa.String(length=12), nullable=False),
    sa.Column('letters', sa.String(length=2), nullable=False),
    sa.Column('year', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('trial', sa.Boolean(), nullable=False),
    sa.Column('value', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('scope_key', 'letters', 'year', 'trial')
    )
    op.create_table('verification_log',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.Column('number', sa.String(length=40), nullable=True),
    sa.Column('result', sa.String(length=10), nullable=False),
    sa.Column('reason', sa.String(length=20), nullable=True),
    sa.Column('client_hash', sa.String(length=32), nullable=True),
    sa.Column('via', sa.String(length=4), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('verification_log', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_verification_log_at'), ['at'], unique=False)
        batch_op.create_index(batch_op.f('ix_verification_log_number'), ['number'], unique=False)


def downgrade():
    with op.batch_alter_table('verification_log', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_verification_log_number'))
        batch_op.drop_index(batch_op.f('ix_verification_log_at'))
    op.drop_table('verification_log')
    op.drop_table('number_counter')
