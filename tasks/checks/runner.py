"""Run one check, isolated and timed: whatever it raises becomes a classified, redacted
:class:`~.result.Failure` in its :class:`~.result.Result`, so one broken check never hides the others.

Each suite keeps its own sequence (which checks, in which order, on which connection) and maps
the results to its statuses; this module is the part they share.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any, TypeVar

import psycopg

from migration_guard.tasks.checks.check import Check, Judged, Verdict
from migration_guard.tasks.checks.result import Failure, FailureKind, Result
from migration_guard.tasks.db import classify_error
from migration_guard.tasks.errors import MigrationGuardError
from migration_guard.tasks.secrets import passwords_in, redact

ContextT = TypeVar("ContextT")
OutputT = TypeVar("OutputT", bound=Judged)


def run_check(
    check: Check[ContextT, OutputT],
    ctx: ContextT,
    *,
    call: Callable[[Check[ContextT, OutputT], ContextT], OutputT] | None = None,
    dsn: str = "",
    logger: logging.Logger | None = None,
) -> Result[OutputT]:
    """Run ``check`` on ``ctx`` and never raise (a KeyboardInterrupt still does).

    Args:
        check: the check.
        ctx: its context.
        call: how to run it (default ``check.run(ctx)``; a flow passes its Prefect task).
        dsn: the database's DSN: its passwords are removed from every failure text, and database
            errors are classified against it.
        logger: when given, a bug in a check is logged there with its traceback.

    Returns:
        The output and its verdict, or a :class:`Failure` with verdict UNKNOWN.
    """
    secrets = passwords_in(dsn) if dsn else []
    started = time.perf_counter()
    try:
        output = call(check, ctx) if call is not None else check.run(ctx)
    except psycopg.Error as exc:
        failure = _failure(FailureKind.DATABASE, classify_error(exc, dsn).message, "", exc, secrets)
    except MigrationGuardError as exc:
        failure = _failure(FailureKind.TOOL, exc.message, exc.suggestion, exc, secrets)
    except Exception as exc:  # noqa: BLE001 - one broken check must not hide the others
        if logger is not None:
            logger.exception("check %s failed unexpectedly", check.name)
        failure = _failure(FailureKind.INTERNAL, "", "", exc, secrets)
    else:
        return Result(check.name, output.verdict, output, None, _since(started))
    return Result(check.name, Verdict.UNKNOWN, None, failure, _since(started))


def check_applies(check: Check[ContextT, Any], ctx: ContextT, logger: logging.Logger | None = None) -> bool:
    """``check.applies(ctx)``; a broken applicability test skips the check (logged when a logger is given)."""
    try:
        return bool(check.applies(ctx))
    except Exception:  # noqa: BLE001 - a broken applicability test skips the check, loudly
        if logger is not None:
            logger.exception("check %s: cannot decide whether it applies", check.name)
        return False


def _failure(kind: FailureKind, message: str, suggestion: str, exc: BaseException, secrets: list[str]) -> Failure:
    text = str(exc)
    raw = redact(text.splitlines()[0] if text else "", secrets)
    return Failure(kind, redact(message, secrets) if message else raw, suggestion, type(exc).__name__, raw)


def _since(started: float) -> float:
    return (time.perf_counter() - started) * 1000
