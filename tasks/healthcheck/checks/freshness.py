"""freshness:<name>: a business job must leave a fresh timestamp (configured per deployment).

The query returns one timestamp (e.g. ``SELECT max(processed_at) FROM late_fee_runs``). Older than
period + grace: "late" (MEDIUM); older than ``down_after`` (default 2 × period + grace) or NULL:
"down" (HIGH). The seed's "late fee processing" check is one such entry.
"""

from __future__ import annotations

from datetime import UTC, datetime

from migration_guard.tasks.checks.check import Check
from migration_guard.tasks.healthcheck.base import CheckContext, Outcome, Problem
from migration_guard.tasks.healthcheck.config import FreshnessCheck
from migration_guard.tasks.durations import format_duration

PREFIX = "freshness:"


def make_check(entry: FreshnessCheck) -> Check:
    """The registered check for one configured freshness entry."""

    def run(ctx: CheckContext) -> Outcome:
        row = ctx.conn.execute(entry.query).fetchone()
        return evaluate(entry, row[0] if row else None, ctx.now, ctx.target.name)

    return Check(PREFIX + entry.name, f"freshness of {entry.name}: {entry.query}", run,
                 lambda ctx: entry.database is None or entry.database == ctx.target.name)


def evaluate(entry: FreshnessCheck, latest: object, now: datetime, database: str) -> Outcome:
    """Decide on the timestamp the query returned — plain data."""
    label = entry.title or entry.name.replace("_", " ")
    suggestions = entry.suggestions or (
        f"check the job's logs and scheduler; last run seen by: {entry.query}",
    )
    if latest is not None and not isinstance(latest, datetime):
        return Outcome(f"query returned {type(latest).__name__}, expected a timestamp", unknown=True)
    if latest is None:
        return Outcome(
            f"{label}: never ran (query returned NULL)", None, "s",
            Problem("HIGH", "BUSINESS", f"{label.capitalize()} is down on {database}",
                    f"{label.capitalize()} has no recorded run ({entry.query} returned NULL); it should run every "
                    f"{format_duration(entry.period)}.", entry.impact, suggestions),
        )
    if latest.tzinfo is None:
        latest = latest.replace(tzinfo=UTC)
    age = now - latest
    summary = f"{label}: last run {format_duration(age)} ago (every {format_duration(entry.period)})"
    if age <= entry.late_after:
        return Outcome(summary, round(age.total_seconds()), "s")
    down = age > entry.down_threshold
    state = "down" if down else "late"
    return Outcome(
        summary, round(age.total_seconds()), "s",
        Problem("HIGH" if down else "MEDIUM", "BUSINESS", f"{label.capitalize()} is {state} on {database}",
                f"{label.capitalize()} last ran {format_duration(age)} ago ({latest.astimezone(UTC):%Y-%m-%d %H:%M} UTC); "
                f"it should run every {format_duration(entry.period)} (grace {format_duration(entry.grace)}).",
                entry.impact, suggestions),
    )
