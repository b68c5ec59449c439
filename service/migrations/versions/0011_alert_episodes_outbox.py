"""alert episodes and outbox: alert_episode, alert_episode_event, alert_outbox, alert_attempt

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02

- ``alert_episode``: one per section, factor and audience while not closed (a partial unique
  index ``WHERE closed_at IS NULL``, on SQLite and PostgreSQL alike);
- ``alert_episode_event``: what happened to an episode, append-only (triggers);
- ``alert_outbox``: every message stored before it is sent; ``dedupe_key`` (episode, level,
  escalation step, channel, recipient) is unique, so a message is one row however often it is
  enqueued;
- ``alert_attempt``: every send, append-only (triggers); pacing is counted from it.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0011'
down_revision: str | None = '0010'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql')
_STR = sqlmodel.sql.sqltypes.AutoString
_TS = sa.DateTime(timezone=True)
APPEND_ONLY_TABLES = ("alert_episode_event", "alert_attempt")


def upgrade() -> None:
    op.create_table('alert_episode',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('section_id', _STR(length=64), nullable=False),
    sa.Column('factor', _STR(length=32), nullable=False),
    sa.Column('audience', _STR(length=16), nullable=False),
    sa.Column('level', sa.Integer(), nullable=False),
    sa.Column('rule_id', _STR(length=64), nullable=False),
    sa.Column('state', _STR(length=16), nullable=False),
    sa.Column('escalation_step', sa.Integer(), nullable=False),
    sa.Column('opened_at', _TS, nullable=False),
    sa.Column('updated_at', _TS, nullable=False),
    sa.Column('last_condition_at', _TS, nullable=False),
    sa.Column('next_escalation_at', _TS, nullable=True),
    sa.Column('closed_at', _TS, nullable=True),
    sa.Column('acknowledged_at', _TS, nullable=True),
    sa.Column('acknowledged_by', _STR(length=64), nullable=True),
    sa.Column('acknowledged_note', sa.Text(), nullable=True),
    sa.Column('last_detail', sa.Text(), server_default='', nullable=False),
    sa.Column('last_value', sa.Float(), nullable=True),
    sa.Column('last_limit', sa.Float(), nullable=True),
    sa.Column('last_observed_at', _TS, nullable=True),
    sa.CheckConstraint("state IN ('open', 'acknowledged', 'closed')", name='ck_alert_episode_state'),
    sa.CheckConstraint("audience IN ('river_chiefs', 'operators')", name='ck_alert_episode_audience'),
    sa.CheckConstraint('level BETWEEN 1 AND 4', name='ck_alert_episode_level'),
    sa.CheckConstraint("(state = 'closed') = (closed_at IS NOT NULL)", name='ck_alert_episode_closed'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('alert_episode', schema=None) as batch_op:
        batch_op.create_index('ix_alert_episode_state', ['state'], unique=False)
        batch_op.create_index(
            'uq_alert_episode_open', ['section_id', 'factor', 'audience'], unique=True,
            sqlite_where=sa.text('closed_at IS NULL'), postgresql_where=sa.text('closed_at IS NULL'),
        )

    op.create_table('alert_episode_event',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('episode_id', sa.Integer(), nullable=False),
    sa.Column('at', _TS, nullable=False),
    sa.Column('kind', _STR(length=16), nullable=False),
    sa.Column('detail', _JSON, nullable=False),
    sa.CheckConstraint(
        "kind IN ('opened', 'updated', 'level_raised', 'escalated', 'acknowledged', 'closed', 'sent')",
        name='ck_alert_episode_event_kind'),
    sa.ForeignKeyConstraint(['episode_id'], ['alert_episode.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('alert_episode_event', schema=None) as batch_op:
        batch_op.create_index('ix_alert_episode_event_episode', ['episode_id', 'at'], unique=False)

    op.create_table('alert_outbox',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('episode_id', sa.Integer(), nullable=False),
    sa.Column('level', sa.Integer(), nullable=False),
    sa.Column('escalation_step', sa.Integer(), nullable=False),
    sa.Column('recipient_id', _STR(length=64), nullable=False),
    sa.Column('channel_id', _STR(length=64), nullable=False),
    sa.Column('dedupe_key', _STR(length=255), nullable=False),
    sa.Column('message', _JSON, nullable=False),
    sa.Column('status', _STR(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', _TS, nullable=False),
    sa.Column('claimed_by', _STR(length=128), nullable=True),
    sa.Column('claim_token', _STR(length=64), nullable=True),
    sa.Column('claimed_until', _TS, nullable=True),
    sa.Column('last_code', _STR(length=64), nullable=True),
    sa.Column('last_answer', sa.Text(), nullable=True),
    sa.Column('created_at', _TS, nullable=False),
    sa.Column('sent_at', _TS, nullable=True),
    sa.CheckConstraint("status IN ('pending', 'sending', 'sent', 'dead')", name='ck_alert_outbox_status'),
    sa.ForeignKeyConstraint(['episode_id'], ['alert_episode.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('dedupe_key', name='uq_alert_outbox_dedupe')
    )
    with op.batch_alter_table('alert_outbox', schema=None) as batch_op:
        batch_op.create_index('ix_alert_outbox_channel', ['channel_id', 'status'], unique=False)
        batch_op.create_index('ix_alert_outbox_due', ['status', 'next_attempt_at'], unique=False)

    op.create_table('alert_attempt',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('outbox_id', sa.Integer(), nullable=False),
    sa.Column('channel_id', _STR(length=64), nullable=False),
    sa.Column('at', _TS, nullable=False),
    sa.Column('status', _STR(length=16), nullable=False),
    sa.Column('code', _STR(length=64), nullable=False),
    sa.Column('answer', sa.Text(), server_default='', nullable=False),
    sa.Column('duration', sa.Float(), nullable=False),
    sa.Column('hold_until', _TS, nullable=True),
    sa.Column('holder', _STR(length=128), nullable=False),
    sa.CheckConstraint(
        "status IN ('sent', 'rate_limited', 'refused', 'unavailable', 'expired')",
        name='ck_alert_attempt_status'),
    sa.ForeignKeyConstraint(['outbox_id'], ['alert_outbox.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('alert_attempt', schema=None) as batch_op:
        batch_op.create_index('ix_alert_attempt_channel', ['channel_id', 'at'], unique=False)
        batch_op.create_index('ix_alert_attempt_outbox', ['outbox_id'], unique=False)

    for table in APPEND_ONLY_TABLES:
        _append_only(table)


def _append_only(table: str) -> None:
    """Refuse UPDATE and DELETE (and TRUNCATE on PostgreSQL) on ``table``, as for audit_event."""
    message = f"{table} 只能追加，不能修改或删除 / {table} is append-only"
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            f"CREATE FUNCTION {table}_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
            f"BEGIN RAISE EXCEPTION '{message}'; END $$"
        )
        op.execute(
            f"CREATE TRIGGER {table}_no_change BEFORE UPDATE OR DELETE ON {table} "
            f"FOR EACH ROW EXECUTE FUNCTION {table}_append_only()"
        )
        op.execute(
            f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
            f"FOR EACH STATEMENT EXECUTE FUNCTION {table}_append_only()"
        )
    else:
        for event in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER {table}_no_{event.lower()} BEFORE {event} ON {table} "
                f"BEGIN SELECT RAISE(ABORT, '{message}'); END"
            )


def downgrade() -> None:
    op.drop_table('alert_attempt')  # its triggers go with it
    op.drop_table('alert_outbox')
    op.drop_table('alert_episode_event')
    op.drop_table('alert_episode')
    if op.get_bind().dialect.name == "postgresql":
        for table in APPEND_ONLY_TABLES:
            op.execute(f"DROP FUNCTION IF EXISTS {table}_append_only()")

