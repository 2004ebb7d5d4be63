"""monitoring points: commissioning (reference coordinates from the first solutions)

Revision ID: 0004
Revises: 0003
"""
from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('monitoring_points', schema=None) as batch_op:
        batch_op.add_column(sa.Column('zero_after_s', sa.Float(), nullable=True))
        batch_op.add_column(sa.Column('zeroed_at', sa.DateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('monitoring_points', schema=None) as batch_op:
        batch_op.drop_column('zeroed_at')
        batch_op.drop_column('zero_after_s')
