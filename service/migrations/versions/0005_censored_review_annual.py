"""below-detection marker, review status, annual results

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('observation', schema=None) as batch_op:
        batch_op.add_column(sa.Column('censored', sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column('review_status', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True))
        batch_op.add_column(sa.Column('review_note', sqlmodel.sql.sqltypes.AutoString(length=256), nullable=True))
        batch_op.add_column(sa.Column('reviewed_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index(batch_op.f('ix_observation_review_status'), ['review_status'], unique=False)

    with op.batch_alter_table('observation_history', schema=None) as batch_op:
        batch_op.add_column(sa.Column('censored', sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column('reason', sqlmodel.sql.sqltypes.AutoString(length=64), server_default='', nullable=False))

    op.create_table('annual_result',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('section_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('class_number', sa.Integer(), nullable=True),
    sa.Column('record', sa.Text(), nullable=False),
    sa.Column('computed_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('section_id', 'year', name='uq_annual_result')
    )
    with op.batch_alter_table('annual_result', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_annual_result_section_id'), ['section_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_annual_result_year'), ['year'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('annual_result', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_annual_result_year'))
        batch_op.drop_index(batch_op.f('ix_annual_result_section_id'))
    op.drop_table('annual_result')
    with op.batch_alter_table('observation_history', schema=None) as batch_op:
        batch_op.drop_column('reason')
        batch_op.drop_column('censored')
    with op.batch_alter_table('observation', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_observation_review_status'))
        batch_op.drop_column('reviewed_at')
        batch_op.drop_column('review_note')
        batch_op.drop_column('review_status')
        batch_op.drop_column('censored')
