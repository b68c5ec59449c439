"""appeals against issued statement lines: appeal, appeal_attachment

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-01

- ``appeal``: a county's appeal against one line of an issued version; its state moves forward
  only (filed → accepted → settled, or → rejected), and a settled appeal has an outcome;
- ``appeal_attachment``: the files sent with an appeal, kept as received.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = '0013'
down_revision: str | None = '0012'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_STR = sqlmodel.sql.sqltypes.AutoString
_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table('appeal',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('month', sa.Date(), nullable=False),
    sa.Column('unit_id', _STR(length=64), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('line_kind', _STR(length=16), nullable=False),
    sa.Column('line_key', _STR(length=128), nullable=False),
    sa.Column('line_text', _STR(length=512), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('state', _STR(length=16), nullable=False),
    sa.Column('filed_by', _STR(length=64), nullable=False),
    sa.Column('filed_at', _TS, nullable=False),
    sa.Column('deadline', _TS, nullable=False),
    sa.Column('decided_by', _STR(length=64), nullable=True),
    sa.Column('decided_at', _TS, nullable=True),
    sa.Column('decision_note', sa.Text(), nullable=True),
    sa.Column('settled_by', _STR(length=64), nullable=True),
    sa.Column('settled_at', _TS, nullable=True),
    sa.Column('outcome', _STR(length=16), nullable=True),
    sa.Column('settled_version', sa.Integer(), nullable=True),
    sa.Column('settle_note', sa.Text(), nullable=True),
    sa.CheckConstraint("state IN ('filed', 'accepted', 'rejected', 'settled')", name='ck_appeal_state'),
    sa.CheckConstraint("outcome IS NULL OR outcome IN ('revised', 'upheld')", name='ck_appeal_outcome'),
    sa.CheckConstraint("(state = 'settled') = (outcome IS NOT NULL)", name='ck_appeal_settled'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('appeal', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_appeal_month'), ['month'], unique=False)
        batch_op.create_index(batch_op.f('ix_appeal_unit_id'), ['unit_id'], unique=False)

    op.create_table('appeal_attachment',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('appeal_id', sa.Integer(), nullable=False),
    sa.Column('filename', _STR(length=128), nullable=False),
    sa.Column('media_type', _STR(length=64), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('sha256', _STR(length=64), nullable=False),
    sa.Column('content', sa.LargeBinary(), nullable=False),
    sa.Column('uploaded_at', _TS, nullable=False),
    sa.Column('uploaded_by', _STR(length=64), nullable=False),
    sa.ForeignKeyConstraint(['appeal_id'], ['appeal.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('appeal_attachment', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_appeal_attachment_appeal_id'), ['appeal_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('appeal_attachment', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_appeal_attachment_appeal_id'))
    op.drop_table('appeal_attachment')
    with op.batch_alter_table('appeal', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_appeal_unit_id'))
        batch_op.drop_index(batch_op.f('ix_appeal_month'))
    op.drop_table('appeal')
