"""People who sign in: roles, a county user's unit, argon2id password hashes.

Passwords are hashed with argon2id through ``argon2-cffi`` (its default, RFC 9106 low-memory
parameters); a hash made with older parameters is re-hashed at the next successful sign-in.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Engine, insert, select, update
from sqlalchemy.exc import IntegrityError

from service.accounts.audit import record
from service.db.models import ROLES, User, table_of, utc_now
from service.errors import ConflictError, InputError, NotFoundError

__all__ = [
    "MIN_PASSWORD_LENGTH",
    "ROLES",
    "Role",
    "UserInfo",
    "add_user",
    "authenticate",
    "disable_user",
    "list_users",
    "set_password",
]

USERS = table_of(User)
MIN_PASSWORD_LENGTH: Final = 12
"""Shortest password accepted [A]."""

_HASHER = PasswordHasher()


class Role(StrEnum):
    """What a person may do (the route → roles table decides where)."""

    ADMIN = "admin"
    ANALYST = "analyst"
    COUNTY = "county"
    RIVER_CHIEF = "river_chief"
    API = "api"

    @property
    def label(self) -> str:
        """管理员, 分析人员, 县（市、区）, 河长, 接口客户端."""
        return {"admin": "管理员", "analyst": "分析人员", "county": "县（市、区）",
                "river_chief": "河长", "api": "接口客户端"}[self.value]  # fmt: skip


@dataclass(frozen=True)
class UserInfo:
    """A user as shown (never the hash)."""

    id: int
    username: str
    role: Role
    unit_id: str | None
    active: bool
    created_at: dt.datetime
    chief_id: str | None = None
    """A river chief's id in the river-chief registry (``sections.river_chiefs``)."""


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InputError(f"口令至少 {MIN_PASSWORD_LENGTH} 个字符 / password too short")


def add_user(
    *, engine: Engine, username: str, role: str, password: str, unit_id: str | None = None,
    chief_id: str | None = None, actor: str = "system",
) -> UserInfo:  # fmt: skip
    """Create a user; a county user needs its unit, a river chief their id in the river-chief
    registry (the caller checks it against the registry in use)."""
    name = username.strip()
    if not name or len(name) > 64:
        raise InputError("用户名须为 1–64 个字符 / username must have 1–64 characters")
    try:
        kind = Role(role)
    except ValueError:
        raise InputError(f"未知角色 / unknown role {role!r}: {', '.join(ROLES)}") from None
    if kind is Role.COUNTY and not unit_id:
        raise InputError("县（市、区）用户须指定考核单位 / a county user needs --unit")
    if kind is Role.RIVER_CHIEF and not chief_id:
        raise InputError("河长用户须指定河长名录中的 id / a river chief needs --chief")
    if kind is not Role.RIVER_CHIEF:
        chief_id = None
    _check_password(password)
    now = utc_now()
    try:
        with engine.begin() as connection:
            result = connection.execute(
                insert(USERS).values(
                    username=name, role=kind.value, unit_id=unit_id, chief_id=chief_id,
                    password_hash=_HASHER.hash(password), active=True, created_at=now,
                    password_changed_at=now,
                ).returning(USERS.c.id)
            )  # fmt: skip
            user_id = int(result.scalar_one())
            record(connection, actor=actor, action="user.add", target=name,
                   detail={"role": kind.value, "unit": unit_id, "chief": chief_id})  # fmt: skip
    except IntegrityError:
        raise ConflictError(f"用户名已存在 / user {name!r} exists") from None
    return UserInfo(user_id, name, kind, unit_id, True, now, chief_id)


def list_users(*, engine: Engine) -> list[UserInfo]:
    """Every user, by name."""
    with engine.connect() as connection:
        rows = connection.execute(select(USERS).order_by(USERS.c.username)).all()
    return [UserInfo(int(r.id), r.username, Role(r.role), r.unit_id, bool(r.active),
                     r.created_at, r.chief_id) for r in rows]  # fmt: skip


def _change(engine: Engine, username: str, action: str, actor: str, **values: object) -> None:
    with engine.begin() as connection:
        result = connection.execute(
            update(USERS).where(USERS.c.username == username).values(**values)
        )
        if result.rowcount == 0:
            raise NotFoundError(f"没有该用户 / no user {username!r}")
        record(connection, actor=actor, action=action, target=username)


def disable_user(*, engine: Engine, username: str, actor: str = "system") -> None:
    """The user can no longer sign in (nothing is deleted)."""
    _change(engine, username, "user.disable", actor, active=False)


def set_password(*, engine: Engine, username: str, password: str, actor: str = "system") -> None:
    """Set a new password."""
    _check_password(password)
    _change(engine, username, "user.password", actor, password_hash=_HASHER.hash(password),
            password_changed_at=utc_now())  # fmt: skip


def authenticate(
    *, engine: Engine, username: str, password: str, address: str = ""
) -> UserInfo | None:
    """The user when the password is right and the account active; every attempt is audited."""
    with engine.connect() as connection:
        row = connection.execute(select(USERS).where(USERS.c.username == username)).first()
    ok = False
    if row is not None and row.active:
        try:
            ok = _HASHER.verify(row.password_hash, password)
        except (VerificationError, InvalidHashError):
            ok = False
    record(engine, actor=username[:64], action="login.ok" if ok else "login.failed",
           address=address)  # fmt: skip
    if not ok or row is None:
        return None
    if _HASHER.check_needs_rehash(row.password_hash):
        with engine.begin() as connection:
            connection.execute(update(USERS).where(USERS.c.id == row.id)
                               .values(password_hash=_HASHER.hash(password)))  # fmt: skip
    return UserInfo(int(row.id), row.username, Role(row.role), row.unit_id, True, row.created_at,
                    row.chief_id)  # fmt: skip
