"""Locating and loading the Jinja2 templates of ``templates/``."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

import service
from sections.classes import WaterClass

__all__ = ["template_dir", "template_environment"]


def template_dir() -> Path:
    """The templates folder: inside the installed wheel, or ``templates/`` of a source checkout."""
    package = Path(service.__file__).resolve().parent
    for candidate in (package / "templates", package.parent / "templates"):
        if (candidate / "base.html").is_file():
            return candidate
    raise FileNotFoundError(f"templates/ not found next to {package}")


@cache
def template_environment() -> Environment:
    """The shared Jinja2 environment (autoescaping, strict undefined, class helpers)."""
    environment = Environment(
        loader=FileSystemLoader(template_dir()),
        autoescape=select_autoescape(["html", "xml"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.globals["WaterClass"] = WaterClass
    return environment
