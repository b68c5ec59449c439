"""exceedance forecasts: forecast, forecast_issue, forecast_candidate

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01

- ``forecast``: one row per section, parameter, issue (the forecast origin) and horizon: the
  median, the 80 % and 95 % intervals, P(exceed), the threshold, the model of that horizon, the
  24 h choice, the model version and the training window; unique per (section_id, parameter,
  issued_at, horizon_h), so issuing again from the same origin is an upsert.
- ``forecast_issue``: why the models were chosen, once per issue.
- ``forecast_candidate``: every candidate's P(exceed) per issue and horizon, with the outcome
  (1/0) and the time it was verified; the running skill record is read from it.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0010'
down_revision: str | None = '0009'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('forecast',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('section_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('parameter', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('issued_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('horizon_h', sa.Integer(), nullable=False),
    sa.Column('target_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('median', sa.Float(), nullable=False),
    sa.Column('lo80', sa.Float(), nullable=False),
    sa.Column('hi80', sa.Float(), nullable=False),
    sa.Column('lo95', sa.Float(), nullable=False),
    sa.Column('hi95', sa.Float(), nullable=False),
    sa.Column('p_exceed', sa.Float(), nullable=True),
    sa.Column('threshold_lower', sa.Float(), nullable=True),
    sa.Column('threshold_upper', sa.Float(), nullable=True),
    sa.Column('model', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('selected', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('model_version', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('data_start', sa.DateTime(timezone=True), nullable=False),
    sa.Column('data_end', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('p_exceed IS NULL OR (p_exceed >= 0 AND p_exceed <= 1)', name='ck_forecast_p_exceed'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('section_id', 'parameter', 'issued_at', 'horizon_h', name='uq_forecast')
    )
    op.create_table('forecast_candidate',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('section_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('parameter', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('issued_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('horizon_h', sa.Integer(), nullable=False),
    sa.Column('candidate', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('target_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('p_exceed', sa.Float(), nullable=False),
    sa.Column('outcome', sa.Integer(), nullable=True),
    sa.Column('verified_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint('outcome IS NULL OR outcome IN (0, 1)', name='ck_forecast_candidate_outcome'),
    sa.CheckConstraint('p_exceed >= 0 AND p_exceed <= 1', name='ck_forecast_candidate_p_exceed'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('section_id', 'parameter', 'issued_at', 'horizon_h', 'candidate', name='uq_forecast_candidate')
    )
    with op.batch_alter_table('forecast_candidate', schema=None) as batch_op:
        batch_op.create_index('ix_forecast_candidate_target', ['target_at'], unique=False)

    op.create_table('forecast_issue',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('section_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('parameter', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('issued_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('why', sa.Text(), server_default='', nullable=False),
    sa.Column('notes', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('section_id', 'parameter', 'issued_at', name='uq_forecast_issue')
    )


def downgrade() -> None:
    op.drop_table('forecast_issue')
    with op.batch_alter_table('forecast_candidate', schema=None) as batch_op:
        batch_op.drop_index('ix_forecast_candidate_target')

    op.drop_table('forecast_candidate')
    op.drop_table('forecast')
