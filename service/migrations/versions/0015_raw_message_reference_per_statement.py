"""observation.raw_message_id checked once per statement, not per row (PostgreSQL)

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-02

The foreign key ``observation.raw_message_id → raw_message.id`` checked every stored
observation with an index look-up and a key-share lock on its raw message: with 9 values a
frame, nine checks per archived frame, about a sixth of the receiver's time at full load. The
same rule is now kept by statement-level triggers with transition tables (PostgreSQL only;
SQLite keeps its foreign key):

- after an INSERT or an UPDATE of ``observation`` (COPY included), a ``raw_message_id`` that
  refers to no raw message fails the statement with SQLSTATE 23503, as the foreign key did —
  one anti-join of the statement's distinct ids against ``raw_message``;
- after a DELETE from ``raw_message``, a removed raw message that an observation still refers
  to fails it the same way (the application never deletes raw messages: archiving keeps the
  row, :mod:`service.db.retention`; the check scans ``observation`` and is meant for the rare
  manual deletion); a TRUNCATE of ``raw_message`` is refused while an observation refers to any.

``observation_history.raw_message_id`` keeps its foreign key (history rows are few).
Downgrade restores the foreign key.
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0015'
down_revision: str | None = '0014'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_RAW_FK = 'fk_observation_raw_message_id_raw_message'
_STORED = 'qingliu_observation_raw_message_exists'
_REMOVED = 'qingliu_raw_message_not_referenced'
_TRUNCATED = 'qingliu_raw_message_truncate_not_referenced'
_TRIGGERS = (  # (name, table, definition)
    ('observation_raw_message_exists_insert', 'observation',
     f'AFTER INSERT ON observation REFERENCING NEW TABLE AS stored '
     f'FOR EACH STATEMENT EXECUTE FUNCTION {_STORED}()'),
    ('observation_raw_message_exists_update', 'observation',
     f'AFTER UPDATE ON observation REFERENCING NEW TABLE AS stored '
     f'FOR EACH STATEMENT EXECUTE FUNCTION {_STORED}()'),
    ('raw_message_not_referenced_delete', 'raw_message',
     f'AFTER DELETE ON raw_message REFERENCING OLD TABLE AS removed '
     f'FOR EACH STATEMENT EXECUTE FUNCTION {_REMOVED}()'),
    ('raw_message_not_referenced_truncate', 'raw_message',
     f'BEFORE TRUNCATE ON raw_message FOR EACH STATEMENT EXECUTE FUNCTION {_TRUNCATED}()'),
)


def upgrade() -> None:
    if op.get_bind().dialect.name != 'postgresql':
        return
    op.execute(f'ALTER TABLE observation DROP CONSTRAINT {_RAW_FK}')
    op.execute(f'''
        CREATE FUNCTION {_STORED}() RETURNS trigger LANGUAGE plpgsql AS $$
        DECLARE
            missing bigint;
        BEGIN
            SELECT s.raw_message_id INTO missing
              FROM (SELECT DISTINCT raw_message_id FROM stored
                     WHERE raw_message_id IS NOT NULL) AS s
             WHERE NOT EXISTS (SELECT 1 FROM raw_message r WHERE r.id = s.raw_message_id)
             LIMIT 1;
            IF FOUND THEN
                RAISE EXCEPTION 'observation.raw_message_id % refers to no raw message', missing
                    USING ERRCODE = 'foreign_key_violation';
            END IF;
            RETURN NULL;
        END $$''')
    op.execute(f'''
        CREATE FUNCTION {_REMOVED}() RETURNS trigger LANGUAGE plpgsql AS $$
        DECLARE
            still bigint;
        BEGIN
            SELECT o.raw_message_id INTO still
              FROM observation o JOIN removed d ON o.raw_message_id = d.id
             LIMIT 1;
            IF FOUND THEN
                RAISE EXCEPTION 'raw_message % is still referred to by an observation', still
                    USING ERRCODE = 'foreign_key_violation';
            END IF;
            RETURN NULL;
        END $$''')
    op.execute(f'''
        CREATE FUNCTION {_TRUNCATED}() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF EXISTS (SELECT 1 FROM observation WHERE raw_message_id IS NOT NULL) THEN
                RAISE EXCEPTION 'raw_message is still referred to by observations'
                    USING ERRCODE = 'foreign_key_violation';
            END IF;
            RETURN NULL;
        END $$''')
    for name, _, definition in _TRIGGERS:
        op.execute(f'CREATE TRIGGER {name} {definition}')


def downgrade() -> None:
    if op.get_bind().dialect.name != 'postgresql':
        return
    for name, table, _ in _TRIGGERS:
        op.execute(f'DROP TRIGGER IF EXISTS {name} ON {table}')
    for function in (_STORED, _REMOVED, _TRUNCATED):
        op.execute(f'DROP FUNCTION IF EXISTS {function}()')
    op.execute(f'ALTER TABLE observation ADD CONSTRAINT {_RAW_FK} '
               f'FOREIGN KEY (raw_message_id) REFERENCES raw_message (id)')
