"""API tokens: shown once, stored only as a SHA-256 hash; scoped, expiring, revocable."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass
from typing import Final

from sqlalchemy import Engine, insert, select, update

from service.accounts.audit import record
from service.db.models import ApiToken, User, table_of, utc_now
from service.errors import InputError, NotFoundError

__all__ = [
    "DEFAULT_LIFETIME",
    "SCOPES",
    "IssuedToken",
    "TokenInfo",
    "create_token",
    "list_tokens",
    "revoke_token",
    "verify_token",
]

TOKENS = table_of(ApiToken)
USERS = table_of(User)
SCOPES: Final = ("read", "issue", "review", "import")
"""What a token may be used for: read data, issue statements, review values, import files."""
DEFAULT_LIFETIME: Final = dt.timedelta(days=90)
"""A token expires after this unless given another lifetime [A]."""
_PREFIX: Final = "qlt_"


@dataclass(frozen=True)
class IssuedToken:
    """A new token: ``secret`` is shown once and never stored."""

    id: int
    secret: str
    expires_at: dt.datetime


@dataclass(frozen=True)
class TokenInfo:
    """A token as listed (no secret)."""

    id: int
    name: str
    prefix: str
    username: str
    scopes: tuple[str, ...]
    expires_at: dt.datetime
    revoked: bool


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def create_token(
    *, engine: Engine, username: str, name: str, scopes: tuple[str, ...] = ("read",),
    lifetime: dt.timedelta = DEFAULT_LIFETIME, actor: str = "system",
) -> IssuedToken:  # fmt: skip
    """Create a token for a user; the secret comes back once."""
    unknown = sorted(set(scopes) - set(SCOPES))
    if unknown or not scopes:
        raise InputError(f"未知权限范围 / unknown scope(s) {unknown}: {', '.join(SCOPES)}")
    if not dt.timedelta(minutes=1) <= lifetime <= dt.timedelta(days=366):
        raise InputError("有效期须在 1 分钟至 366 天之间 / lifetime must be 1 min – 366 days")
    secret = _PREFIX + secrets.token_urlsafe(32)
    now = utc_now()
    with engine.begin() as connection:
        user = connection.execute(select(USERS.c.id).where(USERS.c.username == username)).first()
        if user is None:
            raise NotFoundError(f"没有该用户 / no user {username!r}")
        token_id = connection.execute(
            insert(TOKENS).values(
                name=name[:64], token_hash=_digest(secret), prefix=secret[:12], user_id=user.id,
                scopes=list(scopes), created_at=now, expires_at=now + lifetime,
            ).returning(TOKENS.c.id)
        ).scalar_one()  # fmt: skip
        record(connection, actor=actor, action="token.create", target=f"{username}/{name}",
               detail={"scopes": list(scopes), "prefix": secret[:12]})  # fmt: skip
    return IssuedToken(int(token_id), secret, now + lifetime)


def list_tokens(*, engine: Engine) -> list[TokenInfo]:
    """Every token, newest first."""
    query = select(TOKENS, USERS.c.username).join(USERS, USERS.c.id == TOKENS.c.user_id)
    with engine.connect() as connection:
        rows = connection.execute(query.order_by(TOKENS.c.id.desc())).all()
    return [TokenInfo(int(r.id), r.name, r.prefix, r.username, tuple(r.scopes),
                      _aware(r.expires_at), r.revoked_at is not None) for r in rows]  # fmt: skip


def revoke_token(*, engine: Engine, token_id: int, actor: str = "system") -> None:
    """Revoke a token at once."""
    with engine.begin() as connection:
        result = connection.execute(
            update(TOKENS).where(TOKENS.c.id == token_id, TOKENS.c.revoked_at.is_(None))
            .values(revoked_at=utc_now())
        )  # fmt: skip
        if result.rowcount == 0:
            raise NotFoundError(f"没有该有效令牌 / no active token {token_id}")
        record(connection, actor=actor, action="token.revoke", target=str(token_id))


def verify_token(
    *, engine: Engine, secret: str, scope: str, now: dt.datetime | None = None
) -> str | None:
    """The username a valid, unexpired, unrevoked token with ``scope`` belongs to, else None."""
    if not secret.startswith(_PREFIX):
        return None
    query = (
        select(TOKENS.c.scopes, TOKENS.c.expires_at, TOKENS.c.revoked_at, USERS.c.username,
               USERS.c.active)
        .join(USERS, USERS.c.id == TOKENS.c.user_id)
        .where(TOKENS.c.token_hash == _digest(secret))
    )  # fmt: skip
    with engine.connect() as connection:
        row = connection.execute(query).first()
    moment = now or utc_now()
    if row is None or row.revoked_at is not None or not row.active:
        return None
    if _aware(row.expires_at) <= moment or scope not in row.scopes:
        return None
    return str(row.username)
