"""monitoring points solved against several reference stations: per-reference solutions, the
references combined and their disagreement per solution

Revision ID: 0003
Revises: 0002
"""
from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('point_reference_solutions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('point_id', sa.Integer(), nullable=False),
    sa.Column('time_ns', sa.BigInteger(), nullable=False),
    sa.Column('station', sa.String(length=16), nullable=False),
    sa.Column('quality', sa.Integer(), nullable=False),
    sa.Column('n_sats', sa.Integer(), nullable=False),
    sa.Column('ratio', sa.Float(), nullable=False),
    sa.Column('e_mm', sa.Float(), nullable=True),
    sa.Column('n_mm', sa.Float(), nullable=True),
    sa.Column('u_mm', sa.Float(), nullable=True),
    sa.ForeignKeyConstraint(['point_id'], ['monitoring_points.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('point_id', 'time_ns', 'station')
    )
    with op.batch_alter_table('point_reference_solutions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_point_reference_solutions_point_id'), ['point_id'], unique=False)
    with op.batch_alter_table('point_solutions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('references_used', sa.String(length=128), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('disagreement_mm', sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('point_solutions', schema=None) as batch_op:
        batch_op.drop_column('disagreement_mm')
        batch_op.drop_column('references_used')
    with op.batch_alter_table('point_reference_solutions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_point_reference_solutions_point_id'))
    op.drop_table('point_reference_solutions')
