"""Which frequent statements got slower after a migration: mean time per call from counter deltas
before and after it (plain data)."""

from __future__ import annotations

from dataclasses import dataclass

from migration_guard.tasks.history.model import StatementCounter

#: calls a window needs before its mean time means anything
MIN_CALLS = 50
#: after / before mean that counts as markedly slower ...
SLOWDOWN_FACTOR = 2.0
#: ... by at least this much per call (a 0.01 -> 0.03 ms change is noise, not a regression)
MIN_SLOWDOWN_MS = 0.5


@dataclass(frozen=True)
class Window:
    """Calls and time of one statement over a window."""

    calls: int
    total_ms: float

    @property
    def mean_ms(self) -> float:
        return self.total_ms / self.calls if self.calls else 0.0


@dataclass(frozen=True)
class Regression:
    """A statement markedly slower after the migration than before it."""

    queryid: str
    query: str
    before: Window
    after: Window

    @property
    def factor(self) -> float:
        return self.after.mean_ms / self.before.mean_ms if self.before.mean_ms else float("inf")


def delta(later: StatementCounter, earlier: StatementCounter | None) -> Window | None:
    """The window between two readings of one statement's counters (None after a reset)."""
    if earlier is None:
        return Window(later.calls, later.total_ms)
    if later.calls < earlier.calls or later.total_ms < earlier.total_ms:
        return None
    return Window(later.calls - earlier.calls, later.total_ms - earlier.total_ms)


def regressions(earlier: dict[str, StatementCounter] | None, baseline: dict[str, StatementCounter],
                now: dict[str, StatementCounter], *, min_calls: int = MIN_CALLS,
                factor: float = SLOWDOWN_FACTOR, min_slowdown_ms: float = MIN_SLOWDOWN_MS) -> list[Regression]:
    """Statements slower after the migration, worst first.

    Args:
        earlier: counters some time before ``baseline`` (None: the baseline's own totals, since the
            last stats reset, are the "before" window). A statement with fewer than ``min_calls``
            between ``earlier`` and ``baseline`` falls back to the baseline's totals too.
        baseline: counters taken just before the migration.
        now: counters now (after the migration).
    """
    found = []
    for queryid, current in now.items():
        start = baseline.get(queryid)
        if start is None:
            continue
        after = delta(current, start)
        before = delta(start, (earlier or {}).get(queryid)) if earlier is not None else delta(start, None)
        if before is None or before.calls < min_calls:
            before = delta(start, None)
        if after is None or before is None or after.calls < min_calls or before.calls < min_calls:
            continue
        if after.mean_ms >= factor * before.mean_ms and after.mean_ms - before.mean_ms >= min_slowdown_ms:
            found.append(Regression(queryid, current.query or start.query, before, after))
    return sorted(found, key=lambda r: (r.after.mean_ms - r.before.mean_ms) * r.after.calls, reverse=True)
