"""spot checks (双随机、一公开)

Revision ID: b7d3a91c5e20
Revises: 81160c958417
Create Date: 2026-12-03 17:40:00

"""
from alembic import op
import sqlalchemy as sa

revision = 'b7d3a91c5e20'
down_revision = '81160c958417'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'spotcheck_plan',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=200), nullable=False),
        sa.Column('issued_from', sa.Date(), nullable=False),
        sa.Column('issued_to', sa.Date(), nullable=False),
        sa.Column('types', sa.Text(), nullable=False),
        sa.Column('regions', sa.Text(), nullable=False),
        sa.Column('ratio', sa.String(length=12), nullable=False),
        sa.Column('per_object', sa.Integer(), nullable=False),
        sa.Column('status', sa.String(length=10), nullable=False),
        sa.Column('seed', sa.String(length=64), nullable=True),
        sa.Column('population', sa.Text(), nullable=True),
        sa.Column('inspector_pool', sa.Text(), nullable=True),
        sa.Column('pool_digest', sa.String(length=64), nullable=True),
        sa.Column('created_by', sa.String(length=120), nullable=True),
        sa.Column('created_at', sa.DateTime(), nullable=True),
        sa.Column('drawn_at', sa.DateTime(), nullable=True),
        sa.Column('closed_at', sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_table(
        'spotcheck_object',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('plan_id', sa.Integer(), nullable=False),
        sa.Column('position', sa.Integer(), nullable=False),
        sa.Column('permit_id', sa.Integer(), nullable=False),
        sa.Column('type_code', sa.String(length=40), nullable=False),
        sa.Column('number', sa.String(length=40), nullable=True),
        sa.Column('bureau_code', sa.String(length=8), nullable=False),
        sa.Column('rank', sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(['permit_id'], ['permit.id'], ),
        sa.ForeignKeyConstraint(['plan_id'], ['spotcheck_plan.id'], ),
        sa.PrimaryKeyConstraint('id'),
    )
    with op.batch_alter_table('spotcheck_object', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_spotcheck_object_permit_id'), ['permit_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_spotcheck_object_plan_id'), ['plan_id'], unique=False)
    op.create_table(
        'spotcheck_assignment',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('plan_id', sa.Integer(), nullable=False),
        sa.Column('object_id', sa.Integer(), nullable=False),
        sa.Column('position', sa.Integer(), nullable=False),
        sa.Column('inspector', sa.String(length=120), nullable=False),
        sa.Column('inspector_bureau', sa.String(length=8), nullable=True),
        sa.Column('rank', sa.String(length=64), nullable=False),
        sa.Column('result', sa.String(length=10), nullable=True),
        sa.Column('notes', sa.Text(), nullable=True),
        sa.Column('attachment_name', sa.String(length=200), nullable=True),
        sa.Column('attachment_sha256', sa.String(length=64), nullable=True),
        sa.Column('found_at', sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(['object_id'], ['spotcheck_object.id'], ),
        sa.ForeignKeyConstraint(['plan_id'], ['spotcheck_plan.id'], ),
        sa.PrimaryKeyConstraint('id'),
    )
    with op.batch_alter_table('spotcheck_assignment', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_spotcheck_assignment_inspector'), ['inspector'], unique=False)
        batch_op.create_index(batch_op.f('ix_spotcheck_assignment_object_id'), ['object_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_spotcheck_assignment_plan_id'), ['plan_id'], unique=False)


def downgrade():
    with op.batch_alter_table('spotcheck_assignment', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_spotcheck_assignment_plan_id'))
        batch_op.drop_index(batch_op.f('ix_spotcheck_assignment_object_id'))
        batch_op.drop_index(batch_op.f('ix_spotcheck_assignment_inspector'))
    op.drop_table('spotcheck_assignment')
    with op.batch_alter_table('spotcheck_object', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_spotcheck_object_plan_id'))
        batch_op.drop_index(batch_op.f('ix_spotcheck_object_permit_id'))
    op.drop_table('spotcheck_object')
    op.drop_table('spotcheck_plan')
