"""People, API tokens and the audit log: ``qingliu users``, ``qingliu tokens``, ``qingliu audit``.

Passwords are read from a hidden prompt (or ``--password-stdin``), never from the command line;
a new token's secret is printed once. The actor of every change is ``cli:<system user>``.
"""

from __future__ import annotations

import datetime as dt
import getpass
import json
import sys
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from service.cli._context import state_of
from service.errors import InputError
from service.time import BEIJING

__all__ = [
    "audit_list_command",
    "tokens_create_command",
    "tokens_list_command",
    "tokens_revoke_command",
    "users_add_command",
    "users_disable_command",
    "users_list_command",
    "users_passwd_command",
]

PasswordStdin = Annotated[
    bool, typer.Option("--password-stdin", help="从标准输入读取口令 / read the password from stdin")
]


def _actor() -> str:
    return f"cli:{getpass.getuser()}"


def _password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("口令 / password: ")
    if first != getpass.getpass("再输一次 / again: "):
        raise InputError("两次输入的口令不同 / the passwords differ")
    return first


def users_add_command(
    ctx: typer.Context,
    username: str,
    role: Annotated[
        str, typer.Option(help="角色 / role: admin / analyst / county / river_chief / api")
    ],
    unit: Annotated[
        str | None, typer.Option(help="县（市、区）用户的考核单位 id / a county user's unit")
    ] = None,
    chief: Annotated[
        str | None,
        typer.Option(help="河长用户在河长名录中的 id（见 qingliu chiefs）/ a river chief's id"),
    ] = None,
    password_stdin: PasswordStdin = False,
) -> None:
    """新增用户。Add a user (the password is asked for, never given on the command line)."""
    from service.accounts import add_user

    state = state_of(ctx)
    if unit is not None:
        state.unit(unit)
    if chief is not None:
        state.chief(chief)
    user = add_user(engine=state.engine(), username=username, role=role,
                    password=_password(password_stdin), unit_id=unit, chief_id=chief,
                    actor=_actor())  # fmt: skip
    typer.echo(f"已新增用户 / added {user.username}（{user.role.label}）")


def users_list_command(ctx: typer.Context) -> None:
    """列出用户。List the users."""
    from service.accounts import list_users

    table = Table(title="用户 / users")
    for column in ("用户名", "角色", "考核单位或河长", "状态", "创建时间（北京）"):
        table.add_column(column)
    for user in list_users(engine=state_of(ctx).engine()):
        table.add_row(user.username, user.role.label, user.unit_id or user.chief_id or "—",
                      "有效" if user.active else "停用",
                      f"{user.created_at.astimezone(BEIJING):%Y-%m-%d %H:%M}")  # fmt: skip
    Console().print(table)


def users_disable_command(ctx: typer.Context, username: str) -> None:
    """停用用户（不删除）。Disable a user."""
    from service.accounts import disable_user

    disable_user(engine=state_of(ctx).engine(), username=username, actor=_actor())
    typer.echo(f"已停用 / disabled {username}")


def users_passwd_command(
    ctx: typer.Context, username: str, password_stdin: PasswordStdin = False
) -> None:
    """设置新口令。Set a user's password."""
    from service.accounts import set_password

    set_password(engine=state_of(ctx).engine(), username=username,
                 password=_password(password_stdin), actor=_actor())  # fmt: skip
    typer.echo(f"已更改口令 / password changed for {username}")


def tokens_create_command(
    ctx: typer.Context,
    username: str,
    name: Annotated[str, typer.Option(help="用途 / what the token is for")],
    scope: Annotated[
        list[str] | None,
        typer.Option(
            help="权限范围，可重复；缺省 read / scopes, repeatable: read, issue, review, import"
        ),
    ] = None,
    days: Annotated[int, typer.Option(min=1, max=366, help="有效天数 / lifetime in days")] = 90,
) -> None:
    """创建接口令牌（只显示一次）。Create an API token; its secret is shown once."""
    from service.accounts import create_token

    issued = create_token(engine=state_of(ctx).engine(), username=username, name=name,
                          scopes=tuple(scope or ["read"]), lifetime=dt.timedelta(days=days),
                          actor=_actor())  # fmt: skip
    expires = f"{issued.expires_at.astimezone(BEIJING):%Y-%m-%d %H:%M}"
    typer.echo(f"令牌 {issued.id}（仅显示这一次 / shown once）：\n{issued.secret}\n"
               f"到期 / expires {expires}")  # fmt: skip


def tokens_list_command(ctx: typer.Context) -> None:
    """列出令牌（不含密文）。List the tokens."""
    from service.accounts import list_tokens

    table = Table(title="接口令牌 / API tokens")
    for column in ("id", "用途", "前缀", "用户", "权限", "到期（北京）", "状态"):
        table.add_column(column)
    for token in list_tokens(engine=state_of(ctx).engine()):
        table.add_row(str(token.id), token.name, token.prefix + "…", token.username,
                      ",".join(token.scopes),
                      f"{token.expires_at.astimezone(BEIJING):%Y-%m-%d %H:%M}",
                      "已撤销" if token.revoked else "有效")  # fmt: skip
    Console().print(table)


def tokens_revoke_command(ctx: typer.Context, token_id: int) -> None:
    """撤销令牌（立即生效）。Revoke a token at once."""
    from service.accounts import revoke_token

    revoke_token(engine=state_of(ctx).engine(), token_id=token_id, actor=_actor())
    typer.echo(f"已撤销令牌 / revoked token {token_id}")


def audit_list_command(
    ctx: typer.Context,
    action: Annotated[
        str | None, typer.Option(help="只看某类操作 / one action only, e.g. statement.issue")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=10000, help="条数 / how many")] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="JSON 行输出 / JSON lines")] = False,
) -> None:
    """查看审计日志（新到旧）。Show the audit log, newest first."""
    from service.accounts import audit_events

    events = audit_events(engine=state_of(ctx).engine(), action=action, limit=limit)
    if as_json:
        for e in events:
            typer.echo(json.dumps({"id": e.id, "at": e.at.isoformat(), "actor": e.actor,
                                   "action": e.action, "target": e.target,
                                   "address": e.address, "detail": e.detail},
                                  ensure_ascii=False))  # fmt: skip
        return
    table = Table(title="审计日志 / audit log")
    for column in ("时间（北京）", "操作者", "操作", "对象", "来源"):
        table.add_column(column)
    for e in events:
        table.add_row(f"{e.at.astimezone(BEIJING):%Y-%m-%d %H:%M:%S}", e.actor, e.action,
                      e.target, e.address)  # fmt: skip
    Console().print(table)
