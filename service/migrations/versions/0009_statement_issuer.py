"""issued statements record their issuer

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision: str = '0009'
down_revision: str | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('statement_issue', schema=None) as batch_op:
        batch_op.add_column(sa.Column('issued_by', sqlmodel.sql.sqltypes.AutoString(length=64), server_default='', nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('statement_issue', schema=None) as batch_op:
        batch_op.drop_column('issued_by')
