"""The one place where a command's error becomes a line on stderr and an exit code.

Every command runs inside :func:`reported`: an error of Qingliu's tree prints
:func:`service.errors.error_line` (``错误 / error [title]: message``) and exits with the class's
``exit_code`` (input 2, not found 3, conflict 4, unavailable 5, configuration 6). A foreign error
is mapped first (:func:`service.errors.translate`); anything left is a defect: exit 1 with a
reference id, its traceback written to the error log, never to the terminal. Typer's own exits
and Click's usage errors pass through untouched.
"""

from __future__ import annotations

import contextlib
import logging
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import NoReturn

import typer

from service.errors import QingliuError, error_line, translate

__all__ = ["ERROR_LOG_NAME", "fail", "reported", "translate"]  # translate: service.errors

#: File the full report of an unexpected error goes to (in the data directory, else the temp dir).
ERROR_LOG_NAME = "qingliu-errors.log"

_PASS_THROUGH = (typer.Exit, typer.Abort, typer.TyperException, KeyboardInterrupt)


LogDir = Callable[[], Path | None]


def fail(exc: BaseException, *, log_dir: LogDir | None = None) -> NoReturn:
    """Print the one line for ``exc`` on stderr and exit with its code.

    ``log_dir`` says where the error log goes (asked only when needed; default: the temp dir).
    """
    error = translate(exc)
    with _error_log(log_dir() if log_dir else None) as log_file:
        code, line = error_line(error)
    if not isinstance(error, QingliuError):
        line += f"（详情见日志 / details in {log_file}）"
    typer.echo(" ".join(line.splitlines()), err=True)
    raise typer.Exit(code)


@contextlib.contextmanager
def reported(log_dir: LogDir | None = None) -> Iterator[None]:
    """Run a command body; any error leaves through :func:`fail`."""
    try:
        yield
    except _PASS_THROUGH:
        raise
    except Exception as exc:
        fail(exc, log_dir=log_dir)


@contextlib.contextmanager
def _error_log(log_dir: Path | None) -> Iterator[Path]:
    """While open, the ``qingliu`` logger writes only to the error-log file (never the terminal)."""
    logger = logging.getLogger("qingliu")
    path = (log_dir or Path(tempfile.gettempdir())) / ERROR_LOG_NAME
    try:
        handler: logging.Handler = logging.FileHandler(path, encoding="utf-8", delay=True)
    except OSError:
        handler = logging.NullHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    propagate = logger.propagate
    logger.addHandler(handler)
    logger.propagate = False
    try:
        yield path
    finally:
        logger.propagate = propagate
        logger.removeHandler(handler)
        handler.close()
