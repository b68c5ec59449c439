"""How a command is registered: ``@command(group, "name")``.

Registration adds what every command shares, so no command body repeats it:

- the global options ``--sections`` and ``--chiefs``, accepted after the command too
  (``qingliu compensate --sections F``; ``qingliu --sections F compensate`` works as before,
  through the root callback);
- the one error wrapper (:func:`service.cli._errors.reported`);
- closing the run's engine when the command ends.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar, cast

import typer

from service.cli._context import state_of
from service.cli._errors import reported
from service.cli._options import ChiefsAfterOption, SectionsAfterOption

__all__ = ["command"]

_F = TypeVar("_F", bound=Callable[..., None])

#: Name of the context parameter added to a command that does not take one itself.
_CONTEXT = "_qingliu_context"
#: Global options: parameter name → annotation (a Typer option) of the form after the command.
_GLOBAL_OPTIONS = {"sections": SectionsAfterOption, "chiefs": ChiefsAfterOption}


def command(group: typer.Typer, name: str) -> Callable[[_F], _F]:
    """Register ``func`` as command ``name`` of ``group`` with the global options and wrapper."""

    def register(func: _F) -> _F:
        group.command(name)(_shared(func))
        return func

    return register


def _shared(func: Callable[..., None]) -> Callable[..., None]:
    signature = inspect.signature(func, eval_str=True)
    context = next(
        (p.name for p in signature.parameters.values() if p.annotation is typer.Context), None
    )
    added = [
        inspect.Parameter(option, inspect.Parameter.KEYWORD_ONLY, default=None, annotation=hint)
        for option, hint in _GLOBAL_OPTIONS.items()
    ]
    if context is None:
        added.append(
            inspect.Parameter(_CONTEXT, inspect.Parameter.KEYWORD_ONLY, annotation=typer.Context)
        )
    parameters = [*signature.parameters.values(), *added]

    @functools.wraps(func)
    def run(*args: object, **kwargs: object) -> None:
        # Typer passes its click context for a parameter annotated typer.Context.
        ctx = cast(typer.Context, kwargs.pop(_CONTEXT) if context is None else kwargs[context])
        state = state_of(ctx)
        sections, chiefs = kwargs.pop("sections"), kwargs.pop("chiefs")
        if isinstance(sections, Path):
            state.sections_file = sections
        if isinstance(chiefs, Path):
            state.chiefs_file = chiefs
        try:
            with reported(state.log_dir):
                func(*args, **kwargs)
        finally:
            state.close()

    # Typer reads a command's options from its signature and type hints: show it the added ones.
    run.__dict__["__signature__"] = signature.replace(parameters=parameters)
    run.__annotations__ = {p.name: p.annotation for p in parameters} | {"return": None}
    return run
