"""Retry policy for Prefect tasks: retry what a retry can fix (connections, timeouts), nothing else."""

from __future__ import annotations

from typing import Any

from migration_guard.tasks.errors import Category, DatabaseError

TRANSIENT_KINDS = frozenset({
    "connection_refused", "connection", "timeout", "terminated", "starting_up", "too_many_connections",
    "dns_failure",
})


def is_transient(error: BaseException | None) -> bool:
    """True for failures another attempt may not hit: a refused or dropped connection, a timeout."""
    return isinstance(error, DatabaseError) and (
        error.kind in TRANSIENT_KINDS or error.category is Category.DATABASE_CONNECTION and error.kind != "missing_database"
    )


def retry_on_transient(task: Any, task_run: Any, state: Any) -> bool:
    """``retry_condition_fn`` for Prefect tasks: retry only transient database failures."""
    try:
        error = state.result(raise_on_failure=False)
    except Exception as exc:  # noqa: BLE001 - a result that cannot be read means "do not retry"
        error = exc
    return is_transient(error if isinstance(error, BaseException) else None)


#: keyword arguments for ``@task`` on anything that talks to the database
DB_TASK_OPTIONS: dict[str, Any] = {
    "retries": 2,
    "retry_delay_seconds": [1, 3],
    "retry_condition_fn": retry_on_transient,
}
