"""foreign keys, status checks, JSON records, redundant indexes dropped

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02

- Foreign keys where rows refer to rows: observation.raw_message_id and
  observation_history.raw_message_id → raw_message.id, observation_history.observation_id →
  observation.id, daily_result.run_id → job_run.id. Before they are added, references to rows
  that do not exist are cleared (set NULL), and history rows of observations that do not exist
  are removed (nothing can read them).
- CHECK constraints on the status columns (job_run.status, section_status.status,
  observation.review_status / sample_kind / processing_level, raw_message.parse_status).
- The record columns become JSON (JSONB on PostgreSQL): daily_result.record / provenance,
  monthly_result.record, annual_result.record, monthly_summary.summary, statement_issue.diff
  and job_run.detail; a job run's free-text detail becomes ``{"text": …}``.
  statement_issue.content stays text: it is the canonical JSON its hash is taken of.
- Single-column indexes that lead a unique constraint are dropped (section_status.section_id,
  daily_result.section_id, monthly_result.section_id, annual_result.section_id,
  statement_issue.month).

SQLite rebuilds a table to change it (batch mode); tables are rebuilt parents first, so no
table is rebuilt while a foreign key refers to it.
"""

import json
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON_TYPE = sa.JSON().with_variant(JSONB(), 'postgresql')


def _one_of(column: str, values: Sequence[str], *, nullable: bool = False) -> str:
    listed = ', '.join(f"'{v}'" for v in values)
    condition = f'{column} IN ({listed})'
    return f'{column} IS NULL OR {condition}' if nullable else condition


CHECKS = {
    'raw_message': [
        ('ck_raw_message_parse_status', _one_of(
            'parse_status', ('accepted', 'partial', 'rejected', 'unknown_station', 'expired'))),
    ],
    'job_run': [('ck_job_run_status', _one_of('status', ('running', 'ok', 'failed')))],
    'observation': [
        ('ck_observation_processing_level',
         _one_of('processing_level', ('raw', 'checked', 'reviewed'))),
        ('ck_observation_sample_kind', _one_of('sample_kind', ('routine', 'spot'), nullable=True)),
        ('ck_observation_review_status', _one_of(
            'review_status', ('pending', 'accepted', 'rejected', 'replaced'), nullable=True)),
    ],
    'section_status': [
        ('ck_section_status_status', _one_of('status', ('no_flow', 'dry', 'frozen', 'excluded'))),
    ],
}

FOREIGN_KEYS = {  # table: [(name, column, referred table)]
    'observation': [('fk_observation_raw_message_id_raw_message', 'raw_message_id', 'raw_message')],
    'observation_history': [
        ('fk_observation_history_observation_id_observation', 'observation_id', 'observation'),
        ('fk_observation_history_raw_message_id_raw_message', 'raw_message_id', 'raw_message'),
    ],
    'daily_result': [('fk_daily_result_run_id_job_run', 'run_id', 'job_run')],
}

JSON_COLUMNS = {
    'job_run': ['detail'],
    'daily_result': ['record', 'provenance'],
    'monthly_result': ['record'],
    'annual_result': ['record'],
    'monthly_summary': ['summary'],
    'statement_issue': ['diff'],
}

DROPPED_INDEXES = {  # table: [(index, column)], each led by a unique constraint
    'section_status': [('ix_section_status_section_id', 'section_id')],
    'daily_result': [('ix_daily_result_section_id', 'section_id')],
    'monthly_result': [('ix_monthly_result_section_id', 'section_id')],
    'annual_result': [('ix_annual_result_section_id', 'section_id')],
    'statement_issue': [('ix_statement_issue_month', 'month')],
}

ORDER = [  # parents before the tables that refer to them
    'raw_message', 'job_run', 'observation', 'observation_history', 'section_status',
    'daily_result', 'monthly_result', 'annual_result', 'monthly_summary', 'statement_issue',
]


def _json_object(text: str | None) -> str:
    """A job run's detail as a JSON object: kept when it is one, else ``{"text": …}``."""
    try:
        value = json.loads(text or '')
    except ValueError:
        value = None
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False)
    return json.dumps({'text': text} if text else {}, ensure_ascii=False)


def _prepare_data() -> None:
    """Make the existing rows satisfy the new constraints and types."""
    bind = op.get_bind()
    for table, column, parent in [
        ('observation', 'raw_message_id', 'raw_message'),
        ('observation_history', 'raw_message_id', 'raw_message'),
        ('daily_result', 'run_id', 'job_run'),
    ]:
        bind.exec_driver_sql(
            f'UPDATE {table} SET {column} = NULL WHERE {column} IS NOT NULL AND NOT EXISTS '
            f'(SELECT 1 FROM {parent} WHERE {parent}.id = {table}.{column})'
        )
    bind.exec_driver_sql(
        'DELETE FROM observation_history WHERE NOT EXISTS '
        '(SELECT 1 FROM observation WHERE observation.id = observation_history.observation_id)'
    )
    job_run = sa.table('job_run', sa.column('id', sa.Integer), sa.column('detail', sa.Text))
    for run_id, detail in bind.execute(sa.select(job_run.c.id, job_run.c.detail)).all():
        fixed = _json_object(detail)
        if fixed != detail:
            bind.execute(job_run.update().where(job_run.c.id == run_id).values(detail=fixed))


def upgrade() -> None:
    _prepare_data()
    for table in ORDER:
        with op.batch_alter_table(table, schema=None) as batch_op:
            for index, _ in DROPPED_INDEXES.get(table, []):
                batch_op.drop_index(index)
            if table == 'job_run':  # a text default cannot become JSON
                batch_op.alter_column(
                    'detail', existing_type=sa.Text(), existing_nullable=False,
                    server_default=None, existing_server_default=sa.text("''"),
                )
            for column in JSON_COLUMNS.get(table, []):
                batch_op.alter_column(
                    column, existing_type=sa.Text(), type_=JSON_TYPE, existing_nullable=False,
                    postgresql_using=f'{column}::jsonb',
                )
            for name, condition in CHECKS.get(table, []):
                batch_op.create_check_constraint(name, condition)
            for name, column, parent in FOREIGN_KEYS.get(table, []):
                batch_op.create_foreign_key(name, parent, [column], ['id'])


def downgrade() -> None:
    for table in reversed(ORDER):
        with op.batch_alter_table(table, schema=None) as batch_op:
            for name, _, _ in FOREIGN_KEYS.get(table, []):
                batch_op.drop_constraint(name, type_='foreignkey')
            for name, _ in CHECKS.get(table, []):
                batch_op.drop_constraint(name, type_='check')
            for column in JSON_COLUMNS.get(table, []):
                batch_op.alter_column(
                    column, existing_type=JSON_TYPE, type_=sa.Text(), existing_nullable=False,
                    postgresql_using=f'{column}::text',
                )
            if table == 'job_run':
                batch_op.alter_column(
                    'detail', existing_type=sa.Text(), existing_nullable=False,
                    server_default='',
                )
            for index, column in DROPPED_INDEXES.get(table, []):
                batch_op.create_index(index, [column], unique=False)
