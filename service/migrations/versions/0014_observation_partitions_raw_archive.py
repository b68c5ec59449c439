"""observation partitioned by month on PostgreSQL; raw messages can be archived to files

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-10

PostgreSQL only (SQLite keeps one plain ``observation`` table, it has no partitions):

- ``observation`` becomes a table partitioned by range of ``observed_at``, one partition per
  Beijing month (``observation_pYYYYMM``) and a DEFAULT partition (``observation_default``).
  Every existing row is copied over (ids kept, the id sequence carries on); the months that have
  rows and the current month with the next three get their partitions here, later months by the
  scheduler (:mod:`service.db.partitions`).
- A partitioned table's primary key and unique constraints must contain the partition key: the
  primary key becomes ``(id, observed_at)`` (ids still come from one sequence);
  ``uq_observation`` already contains ``observed_at``.
- A foreign key may only refer to such a constraint, so ``observation_history.observation_id →
  observation.id`` cannot stay a foreign key. It becomes a trigger that refuses a history row
  whose observation does not exist (SQLSTATE 23503, as the foreign key did). A composite key
  (``observation_history.observed_at``) was not chosen: every writer of history would have to
  carry the time, and moving rows out of the default partition (delete, insert) would trip it.

Both dialects: ``raw_message`` gets ``archived_at`` and ``archive`` (the archive file that now
holds the payload, :mod:`service.db.retention`); an archived row keeps its id, hash and status,
so observations keep their ``raw_message_id``.

Downgrade copies the rows back into one plain table and restores the foreign key (the archive
columns go; archived payloads stay in their files).
"""

import datetime as dt
from collections.abc import Sequence
from zoneinfo import ZoneInfo

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = '0014'
down_revision: str | None = '0013'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BEIJING = ZoneInfo('Asia/Shanghai')
_MONTHS_AHEAD = 3
_HISTORY_FK = 'fk_observation_history_observation_id_observation'
_RAW_FK = 'fk_observation_raw_message_id_raw_message'
_CHECK_FUNCTION = 'qingliu_observation_history_observation_exists'
_CHECK_TRIGGER = 'observation_history_observation_exists'
_INDEXES = (  # (name, columns) of observation besides its keys
    ('ix_observation_section_time', 'section_id, observed_at'),
    ('ix_observation_review_status', 'review_status'),
)


def _next_month(month: dt.date) -> dt.date:
    return (month.replace(day=28) + dt.timedelta(days=4)).replace(day=1)


def _bound(month: dt.date) -> str:
    return dt.datetime.combine(month, dt.time(), _BEIJING).isoformat(sep=' ')


def _keys_and_indexes(table: str, primary_key: str) -> None:
    op.execute(f'ALTER TABLE {table} ADD CONSTRAINT observation_pkey PRIMARY KEY ({primary_key})')
    op.execute(f'ALTER TABLE {table} ADD CONSTRAINT uq_observation '
               f'UNIQUE (station, parameter, observed_at, source)')
    op.execute(f'ALTER TABLE {table} ADD CONSTRAINT {_RAW_FK} '
               f'FOREIGN KEY (raw_message_id) REFERENCES raw_message (id)')
    for name, columns in _INDEXES:
        op.execute(f'CREATE INDEX {name} ON {table} ({columns})')


def _set_aside() -> None:
    """Rename the current table and free the names of its keys and indexes."""
    op.execute('ALTER TABLE observation RENAME TO observation_old')
    op.execute(f'ALTER TABLE observation_old DROP CONSTRAINT IF EXISTS {_RAW_FK}')
    op.execute('ALTER TABLE observation_old DROP CONSTRAINT observation_pkey')
    op.execute('ALTER TABLE observation_old DROP CONSTRAINT uq_observation')
    for name, _ in _INDEXES:
        op.execute(f'DROP INDEX IF EXISTS {name}')


def _partitioned_upgrade() -> None:
    bind = op.get_bind()
    op.execute(f'ALTER TABLE observation_history DROP CONSTRAINT {_HISTORY_FK}')
    _set_aside()
    op.execute('CREATE TABLE observation (LIKE observation_old INCLUDING DEFAULTS '
               'INCLUDING CONSTRAINTS) PARTITION BY RANGE (observed_at)')
    _keys_and_indexes('observation', 'id, observed_at')
    op.execute("ALTER SEQUENCE observation_id_seq OWNED BY observation.id")
    op.execute('CREATE TABLE observation_default PARTITION OF observation DEFAULT')
    stored = bind.exec_driver_sql(
        "SELECT DISTINCT date_trunc('month', observed_at AT TIME ZONE 'Asia/Shanghai') "
        "FROM observation_old"
    ).scalars()
    months = {value.date() for value in stored}
    month = dt.datetime.now(_BEIJING).date().replace(day=1)
    for _ in range(_MONTHS_AHEAD + 1):
        months.add(month)
        month = _next_month(month)
    for first in sorted(months):
        op.execute(f'CREATE TABLE observation_p{first:%Y%m} PARTITION OF observation '
                   f"FOR VALUES FROM ('{_bound(first)}') TO ('{_bound(_next_month(first))}')")
    op.execute('INSERT INTO observation SELECT * FROM observation_old')
    op.execute('DROP TABLE observation_old')
    op.execute(f'''
        CREATE FUNCTION {_CHECK_FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF NOT EXISTS (SELECT 1 FROM observation WHERE id = NEW.observation_id) THEN
                RAISE EXCEPTION 'observation_history.observation_id % refers to no observation',
                    NEW.observation_id USING ERRCODE = 'foreign_key_violation';
            END IF;
            RETURN NEW;
        END $$''')
    op.execute(f'CREATE TRIGGER {_CHECK_TRIGGER} BEFORE INSERT OR UPDATE OF observation_id '
               f'ON observation_history FOR EACH ROW EXECUTE FUNCTION {_CHECK_FUNCTION}()')
    op.execute('ANALYZE observation')


def _partitioned_downgrade() -> None:
    op.execute(f'DROP TRIGGER IF EXISTS {_CHECK_TRIGGER} ON observation_history')
    op.execute(f'DROP FUNCTION IF EXISTS {_CHECK_FUNCTION}()')
    _set_aside()
    op.execute('CREATE TABLE observation (LIKE observation_old INCLUDING DEFAULTS '
               'INCLUDING CONSTRAINTS)')
    op.execute('INSERT INTO observation SELECT * FROM observation_old ORDER BY id')
    op.execute("ALTER SEQUENCE observation_id_seq OWNED BY observation.id")
    op.execute('DROP TABLE observation_old')  # and its partitions
    _keys_and_indexes('observation', 'id')
    op.execute(f'ALTER TABLE observation_history ADD CONSTRAINT {_HISTORY_FK} '
               f'FOREIGN KEY (observation_id) REFERENCES observation (id)')


def upgrade() -> None:
    with op.batch_alter_table('raw_message', schema=None) as batch_op:
        batch_op.add_column(sa.Column('archived_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('archive', sqlmodel.sql.sqltypes.AutoString(length=128),
                                      nullable=True))
    if op.get_bind().dialect.name == 'postgresql':
        _partitioned_upgrade()


def downgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        _partitioned_downgrade()
    for column in ('archive', 'archived_at'):  # no table rebuild: rows refer to raw_message
        op.execute(f'ALTER TABLE raw_message DROP COLUMN {column}')
