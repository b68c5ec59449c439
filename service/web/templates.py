"""Locating and loading the Jinja2 templates of ``templates/``, and what every page's header
needs to know: who is signed in (:func:`signed_in`, a template global)."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Final

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

import service
from sections.classes import WaterClass

__all__ = ["HeaderUser", "signed_in", "template_dir", "template_environment"]

_BUREAU: Final = frozenset({"admin", "analyst"})
"""Roles the menu offers 数据质量 (the page is theirs only: ``Access.OPERATIONS``)."""
_NO_MONEY: Final = frozenset({"river_chief"})
"""Roles the menu does not offer 生态补偿 (anonymous callers neither)."""


@dataclass(frozen=True)
class HeaderUser:
    """The signed-in caller as the page header shows them."""

    name: str = field(metadata={"help": "用户名"})
    role_label: str = field(metadata={"help": "角色（中文），如 分析人员"})
    sees_quality: bool = field(metadata={"help": "菜单是否显示 数据质量（管理员、分析人员）"})
    sees_compensation: bool = field(metadata={"help": "菜单是否显示 生态补偿（河长不显示）"})


def signed_in() -> HeaderUser | None:
    """The caller of the request being rendered, when signed in; None for an anonymous caller
    and outside a request (a page rendered for an error, a bulletin made by a job).

    Reads :data:`service.api.access.CALLER`, which the app-wide dependency ``authorize`` sets in
    the request's context; a sync route renders in the threadpool on a copy of that context, so
    it sees the same caller. Public routes (``/login``) get an anonymous caller.
    """
    # imported here: bulletins and statements render with this environment outside the web
    # app, and should not load FastAPI and the password hasher for it
    from service.api.access import CALLER

    principal = CALLER.get()
    if principal is None or principal.role is None or principal.username is None:
        return None
    role = principal.role
    return HeaderUser(
        name=principal.username,
        role_label=role.label,
        sees_quality=role.value in _BUREAU,
        sees_compensation=role.value not in _NO_MONEY,
    )


def template_dir() -> Path:
    """The templates folder: inside the installed wheel, or ``templates/`` of a source checkout."""
    package = Path(service.__file__).resolve().parent
    for candidate in (package / "templates", package.parent / "templates"):
        if (candidate / "base.html").is_file():
            return candidate
    raise FileNotFoundError(f"templates/ not found next to {package}")


@cache
def template_environment() -> Environment:
    """The shared Jinja2 environment (autoescaping, strict undefined, class helpers, the
    header's :func:`signed_in`)."""
    environment = Environment(
        loader=FileSystemLoader(template_dir()),
        autoescape=select_autoescape(["html", "xml"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.globals["WaterClass"] = WaterClass
    environment.globals["signed_in"] = signed_in
    return environment
