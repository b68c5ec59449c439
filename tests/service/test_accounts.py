"""Users (argon2), API tokens (hashed, scoped, expiring, revocable), the append-only audit log."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import Engine, select, text
from sqlalchemy.exc import DBAPIError
from typer.testing import CliRunner

from service.accounts import (
    add_user,
    audit_events,
    authenticate,
    create_token,
    disable_user,
    list_tokens,
    revoke_token,
    set_password,
    verify_token,
)
from service.cli import app as cli
from service.db.models import ApiToken, User, table_of
from service.errors import ConflictError, InputError, NotFoundError
from service.settings import Settings

PASSWORD = "correct horse battery"


def test_passwords_are_argon2_and_sign_in_is_audited(db: Engine) -> None:
    add_user(engine=db, username="wang", role="analyst", password=PASSWORD)
    with db.connect() as connection:
        stored = connection.execute(select(table_of(User).c.password_hash)).scalar_one()
    assert stored.startswith("$argon2id$") and PASSWORD not in stored
    assert authenticate(engine=db, username="wang", password=PASSWORD) is not None
    assert authenticate(engine=db, username="wang", password="wrong password!") is None
    assert authenticate(engine=db, username="nobody", password=PASSWORD) is None
    actions = [e.action for e in audit_events(engine=db)]
    assert actions[:3] == ["login.failed", "login.failed", "login.ok"]
    assert "user.add" in actions


def test_a_disabled_user_cannot_sign_in_and_a_new_password_replaces_the_old(db: Engine) -> None:
    add_user(engine=db, username="li", role="admin", password=PASSWORD)
    set_password(engine=db, username="li", password="another long secret")
    assert authenticate(engine=db, username="li", password=PASSWORD) is None
    assert authenticate(engine=db, username="li", password="another long secret") is not None
    disable_user(engine=db, username="li")
    assert authenticate(engine=db, username="li", password="another long secret") is None


def test_bad_users_are_refused_with_clear_errors(db: Engine) -> None:
    with pytest.raises(InputError, match="口令至少"):
        add_user(engine=db, username="a", role="admin", password="short")
    with pytest.raises(InputError, match="考核单位"):
        add_user(engine=db, username="b", role="county", password=PASSWORD)
    with pytest.raises(InputError, match="未知角色"):
        add_user(engine=db, username="c", role="emperor", password=PASSWORD)
    add_user(engine=db, username="d", role="county", password=PASSWORD, unit_id="taocheng")
    with pytest.raises(ConflictError):
        add_user(engine=db, username="d", role="admin", password=PASSWORD)
    with pytest.raises(NotFoundError):
        disable_user(engine=db, username="nobody")


def test_tokens_are_hashed_scoped_expiring_and_revocable(db: Engine) -> None:
    add_user(engine=db, username="api", role="api", password=PASSWORD)
    issued = create_token(engine=db, username="api", name="bureau dashboard",
                          scopes=("read",), lifetime=dt.timedelta(days=1))  # fmt: skip
    with db.connect() as connection:
        row = connection.execute(select(table_of(ApiToken))).one()
    assert issued.secret not in (row.token_hash, row.prefix) and len(row.token_hash) == 64
    assert verify_token(engine=db, secret=issued.secret, scope="read") == "api"
    assert verify_token(engine=db, secret=issued.secret, scope="issue") is None  # out of scope
    later = issued.expires_at + dt.timedelta(seconds=1)
    assert verify_token(engine=db, secret=issued.secret, scope="read", now=later) is None
    assert verify_token(engine=db, secret="qlt_forged", scope="read") is None
    revoke_token(engine=db, token_id=issued.id)
    assert verify_token(engine=db, secret=issued.secret, scope="read") is None
    assert list_tokens(engine=db)[0].revoked
    with pytest.raises(NotFoundError):
        revoke_token(engine=db, token_id=issued.id)
    with pytest.raises(InputError):
        create_token(engine=db, username="api", name="x", scopes=("root",))


def test_a_disabled_users_tokens_stop_working(db: Engine) -> None:
    add_user(engine=db, username="svc", role="api", password=PASSWORD)
    issued = create_token(engine=db, username="svc", name="x")
    disable_user(engine=db, username="svc")
    assert verify_token(engine=db, secret=issued.secret, scope="read") is None


def test_the_audit_log_refuses_update_and_delete_in_the_database(db: Engine) -> None:
    add_user(engine=db, username="zhao", role="analyst", password=PASSWORD)
    for statement in ("UPDATE audit_event SET actor = 'someone else'", "DELETE FROM audit_event"):
        with pytest.raises(DBAPIError, match="append-only"), db.begin() as connection:
            connection.execute(text(statement))
    assert [e.actor for e in audit_events(engine=db)] == ["system"]


def test_the_commands_manage_users_tokens_and_show_the_audit(
    db: Engine, settings: Settings
) -> None:
    env = {"QINGLIU_DATABASE_URL": str(settings.database_url),
           "QINGLIU_DATA_DIR": str(settings.data_dir)}  # fmt: skip
    runner = CliRunner()
    added = runner.invoke(cli, ["users", "add", "chen", "--role", "analyst", "--password-stdin"],
                          input=PASSWORD + "\n", env=env)  # fmt: skip
    assert added.exit_code == 0, added.output
    assert "chen" in runner.invoke(cli, ["users", "list"], env=env).output
    token = runner.invoke(cli, ["tokens", "create", "chen", "--name", "dash", "--scope", "read"],
                          env=env)  # fmt: skip
    assert token.exit_code == 0 and "qlt_" in token.output
    secret = next(w for w in token.output.split() if w.startswith("qlt_"))
    assert verify_token(engine=db, secret=secret, scope="read") == "chen"
    assert secret not in runner.invoke(cli, ["tokens", "list"], env=env).output
    short = runner.invoke(cli, ["users", "passwd", "chen", "--password-stdin"], input="short\n",
                          env=env)  # fmt: skip
    assert short.exit_code == 2 and "口令至少" in short.output
    audit = runner.invoke(cli, ["audit", "list", "--json"], env=env)
    assert audit.exit_code == 0 and '"action": "token.create"' in audit.output
    assert '"actor": "cli:' in audit.output
