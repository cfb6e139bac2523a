"""How the apply step deals with a session in its way, in the words the table-locks and transactions
checks report (plain logic, no I/O).

The apply step runs every statement under ``lock_timeout`` and retries a statement that hits it
(backoff with jitter) within ``MIGRATE_RETRY_BUDGET``: a blocker that goes away within the budget
costs that much time and never stalls the application longer than one ``lock_timeout``. That is
something to WARN about, not a reason to refuse the deploy. Only when ``lock_timeout`` is off
(0) would apply queue behind the blocker without bound — with every later query on the table
queued behind it — and that is a FAIL.
"""

from __future__ import annotations

from migration_guard.tasks.catalog import SessionInfo
from migration_guard.tasks.durations import postgres_duration_seconds


def waits_unbounded(lock_timeout: str | float) -> bool:
    """True when ``lock_timeout`` is 0 (off): apply would queue behind a blocker without bound."""
    return postgres_duration_seconds(lock_timeout, name="LOCK_TIMEOUT") <= 0


def session_summary(session: SessionInfo) -> str:
    """``application 'x', idle in transaction, since 2026-01-01 10:00:00, query: SELECT ...``."""
    started = session.xact_start or session.backend_start
    query = " ".join((session.query or "").split())
    if len(query) > 120:
        query = query[:117] + "..."
    parts = [f"application {session.application_name or '?'!r}", session.state or "state unknown"]
    if started is not None:
        parts.append(f"since {started:%Y-%m-%d %H:%M:%S}")
    parts.append(f"query: {query or '?'}")
    return ", ".join(parts)


def apply_wait_line(session: SessionInfo, lock_timeout: str | float, retry_budget_s: float) -> str:
    """``apply will wait up to 60 s for pid 123 (application 'app', idle in transaction, since ..., query: ...)``."""
    return f"apply will wait up to {retry_budget_s:g} s for pid {session.pid} ({session_summary(session)})"


def apply_wait_fix(pids: list[int], lock_timeout: str | float, retry_budget_s: float) -> str:
    """What apply does about the blockers, and what to run if they must go now."""
    ends = " ".join(f"SELECT pg_terminate_backend({pid});" for pid in pids)
    return (f"nothing to do before migrating: apply tries in attempts of lock_timeout {lock_timeout} (no query waits "
            f"longer behind the migration) and retries with backoff for up to {retry_budget_s:g} s; if the blocker "
            f"is still there then, migrate stops having changed nothing. To end it now: {ends}")


def unbounded_fix(pids: list[int]) -> str:
    """The fix when lock_timeout is off: bound the wait (or end the blockers)."""
    ends = " ".join(f"SELECT pg_terminate_backend({pid});" for pid in pids)
    return (f"set LOCK_TIMEOUT (e.g. 1s; or migrate --lock-timeout 1s) so apply waits in bounded attempts, "
            f"or end the blocker(s) first: {ends}")
