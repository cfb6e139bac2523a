"""Shared CLI output: consoles, error printing, and the error-to-exit-code boundary."""

from __future__ import annotations

import functools
import json
import os
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import typer
from rich.console import Console

from migration_guard.tasks.errors import MigrationGuardError
from migration_guard.tasks.secrets import redact

#: width of tables written to a file or pipe (a cron log, CI) when COLUMNS does not say: Rich's
#: default of 80 squeezes the healthcheck's summaries into a few characters per line
PIPE_WIDTH = 200


def _width(stream: Any) -> int | None:
    """None (Rich decides) on a terminal or when COLUMNS is set; PIPE_WIDTH otherwise."""
    if os.environ.get("COLUMNS"):
        return None
    try:
        return None if stream.isatty() else PIPE_WIDTH
    except (AttributeError, ValueError):
        return PIPE_WIDTH


console = Console(highlight=False, soft_wrap=True, width=_width(sys.stdout))
err_console = Console(stderr=True, highlight=False, soft_wrap=True, width=_width(sys.stderr))

F = TypeVar("F", bound=Callable[..., Any])


def print_error(message: str, suggestion: str = "") -> None:
    """``error: ...`` (one line) and an optional ``hint: ...`` on stderr, secrets masked."""
    err_console.print(f"[bold red]error:[/] {redact(message)}", markup=True, highlight=False)
    if suggestion:
        err_console.print(f"[yellow]hint:[/] {redact(suggestion)}", markup=True, highlight=False)


def print_interrupted(signum: int | None = None) -> int:
    """The one ``interrupted: ...`` line (what stays committed, or that nothing was changed, and
    what the cleanup did) on stderr, once; returns the exit code (130 SIGINT, 143 SIGTERM)."""
    from migration_guard.tasks import interrupts

    signum = signum or interrupts.received() or 2
    if interrupts.mark_reported():
        err_console.print(redact(interrupts.summary(signum)), markup=False, highlight=False)
    interrupts.ignore_further()
    return 128 + signum


def print_json(data: Any) -> None:
    """Machine output: plain JSON on stdout (no colour, no wrapping)."""
    sys.stdout.write(json.dumps(data, indent=2, sort_keys=False, default=str) + "\n")
    sys.stdout.flush()


def handle_errors(error_exit_code: int = 1, config_exit_code: int = 2) -> Callable[[F], F]:
    """Turn migration-guard errors into one-line messages and exit codes (never a traceback); an
    interrupt (SIGINT / SIGTERM) prints its ``interrupted: ...`` line and exits 130 / 143.

    Args:
        error_exit_code: exit code for operational failures (database, files, ledger).
        config_exit_code: exit code for ConfigError (bad usage or configuration).
    """
    from migration_guard.tasks.errors import ConfigError
    from migration_guard.tasks.interrupts import Interrupted

    def decorate(fn: F) -> F:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                return fn(*args, **kwargs)
            except Interrupted as exc:
                raise typer.Exit(print_interrupted(exc.signum)) from None
            except ConfigError as exc:
                print_error(exc.message, exc.suggestion)
                raise typer.Exit(config_exit_code) from None
            except MigrationGuardError as exc:
                print_error(exc.message, exc.suggestion)
                raise typer.Exit(error_exit_code) from None

        return wrapper  # type: ignore[return-value]

    return decorate
