"""Accounts: people who sign in, API tokens, and the append-only audit log.

``users`` (argon2 passwords, roles, a county's unit), ``tokens`` (only a hash at rest; scoped,
expiring, revocable) and ``audit`` (every decision about money, data review, users and tokens,
appended and never changed). Roles are :data:`ROLES`.
"""

from service.accounts.audit import AuditEntry, audit_events, record
from service.accounts.tokens import (
    IssuedToken,
    TokenInfo,
    create_token,
    list_tokens,
    revoke_token,
    verify_token,
)
from service.accounts.users import (
    ROLES,
    Role,
    UserInfo,
    add_user,
    authenticate,
    disable_user,
    list_users,
    set_password,
)

__all__ = [
    "ROLES",
    "AuditEntry",
    "IssuedToken",
    "Role",
    "TokenInfo",
    "UserInfo",
    "add_user",
    "audit_events",
    "authenticate",
    "create_token",
    "disable_user",
    "list_tokens",
    "list_users",
    "record",
    "revoke_token",
    "set_password",
    "verify_token",
]
