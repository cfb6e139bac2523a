"""Is a started, unfinished ledger row a migration running now, or a failed one? (plain logic)

Neither Prisma nor migration-guard writes a session id into the ledger, so the answer comes from the
live sessions (``catalog.migration_sessions``):

- **high** confidence: a session is running one of the migration's statements right now
  (Prisma's engine sends the script, or each statement, as its query), or migration-guard's own
  migrate holds the migration lock (it applies the oldest unfinished migration first);
- **medium** confidence: the migration lock is held by a live session that was connected before
  this attempt started (the session that wrote the row must have been), and this is the newest
  unfinished row — the lock says a migration runs, not which one, so this is inferred.

Otherwise the row is what it looks like: a failed attempt.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import timedelta

from migration_guard.tasks.models import InFlight, LedgerEntry, LiveSession, Migration

#: application_name of migration-guard migrate's two sessions (the lock holder, the one applying)
OWN_LOCK_APPLICATION = "migration-guard migrate lock"
OWN_APPLY_APPLICATION = "migration-guard migrate"
#: clock slack between the server's backend_start and a ledger row's started_at (Prisma's engine
#: may write started_at from its own clock)
CLOCK_SLACK = timedelta(seconds=2)
#: a current query shorter than this (normalised) is too generic to tie to a migration
_MIN_MATCH = 16
_COMMENT = re.compile(r"--[^\n]*|/\*.*?\*/", re.S)
_IF_EXISTS = re.compile(r"\bif (not )?exists\b")


def find_in_flight(
    migration: Migration | None,
    attempt: LedgerEntry,
    sessions: Sequence[LiveSession],
    *,
    newest_unfinished: bool,
) -> InFlight | None:
    """The session applying ``attempt`` right now, with how sure that is; None when none is.

    Args:
        migration: the migration on disk (None when its file is missing: only the lock can tell).
        attempt: its latest unfinished ledger row.
        sessions: live sessions (lock holders, our migrate sessions, active sessions).
        newest_unfinished: True when no unfinished row started after this one (one migration runs
            at a time under the lock, so only the newest unfinished row can be the running one).
    """
    if migration is not None:
        running_it = [s for s in sessions if s.state == "active" and runs_statement_of(s.query, migration.sql)]
        if running_it:
            session = sorted(running_it, key=lambda s: not s.holds_lock)[0]
            lock = " and holds the migration lock" if session.holds_lock else ""
            return InFlight(session, "high", f"pid {session.pid} is running a statement of this migration{lock}")
    if not newest_unfinished:
        return None
    holders = [s for s in sessions if s.holds_lock]
    own = [h for h in holders if h.application_name == OWN_LOCK_APPLICATION]
    if own:
        applying = next((s for s in sessions if s.application_name == OWN_APPLY_APPLICATION), own[0])
        return InFlight(applying, "high",
                        f"migration-guard migrate holds the migration lock (pid {own[0].pid}) and applies the "
                        "oldest unfinished migration first")
    for holder in holders:
        if holder.backend_start is None or holder.backend_start <= attempt.started_at + CLOCK_SLACK:
            return InFlight(holder, "medium",
                            f"the migration lock is held by pid {holder.pid}, connected before this attempt started; "
                            "the ledger records no session, so this is inferred from the lock")
    return None


def runs_statement_of(query: str | None, script: str) -> bool:
    """True when a session's current ``query`` is (part of) ``script``: the whole script, one of its
    statements (re-runnable rewrites with IF [NOT] EXISTS included), or a prefix cut by
    track_activity_query_size."""
    current = _normalised(query or "")
    if len(current) < _MIN_MATCH:
        return False
    whole = _normalised(script)
    return current in whole or whole in current


def _normalised(text: str) -> str:
    text = _COMMENT.sub(" ", text.lower())
    text = _IF_EXISTS.sub(" ", text)
    return " ".join(text.replace(";", " ").split())
