"""capacity_forecast: from the health history, when a growing metric will cross its limit at the
last 7 days' rate — an int4/int8 sequence reaching its column's maximum, the transaction ID age
reaching wraparound (2^31), client connections reaching max_connections, the database's size
reaching DATABASE_SIZE_LIMIT. PostgreSQL shows no free disk to SQL (pg_ls_dir and pg_stat_file
are for superusers, and see files, not the file system's free space), so without that setting the
size is only a rate ("grows 1.2 GiB/day"), never a made-up date.

Problem: each of these stops the application when it is reached (nextval fails, writes are
refused, new connections are refused), and each climbs for days first. Solution: act while there
are days left — widen the column to bigint, unblock freezing, add a pooler, grow the disk.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta

from migration_guard.tasks.checks.check import Check
from migration_guard.tasks.healthcheck.base import CheckContext, Outcome, Problem
from migration_guard.tasks.backup.sizing import format_bytes
from migration_guard.tasks.history.forecast import (
    MIN_POINTS, MIN_SPAN, WINDOW, Forecast, describe_days, forecast, latest_point, power_of_two, reaches_limit_within,
    trend,
)
from migration_guard.tasks.history.model import CONNECTIONS_USED, DATABASE_SIZE, SEQUENCE_VALUE, XID_AGE, Point
from migration_guard.tasks.history.backend import reading_store
from migration_guard.tasks.history.sequences import NEARLY_FULL, sequence_ends
from migration_guard.tasks.history.store import database_key
from migration_guard.tasks.sql.identifiers import quoted_if_needed, split_qualified as split_subject

NAME = "capacity_forecast"
#: a crossing forecast this close is a HIGH alert; within WARN_DAYS a MEDIUM one
CRITICAL_DAYS = 7.0
WARN_DAYS = 30.0

#: (metric, counter?) — a counter's trend restarts at a reset and "now" is its last value
METRICS = ((SEQUENCE_VALUE, True), (XID_AGE, False), (CONNECTIONS_USED, False), (DATABASE_SIZE, False))
SIZE_LIMIT_SETTING = "DATABASE_SIZE_LIMIT"


def display_name(subject: str) -> str:
    """``Order.id`` for ``public."Order".id``: plain names, the schema shown only when it is not public."""
    parts = split_subject(subject)
    return ".".join(parts[1:]) if parts and parts[0] == "public" and len(parts) > 1 else ".".join(parts)


def describe(metric: str, f: Forecast) -> str:
    """One line in the alert's words: what reaches which limit, when, at which rate."""
    rate = f"at the last {round(f.window_days) or 1} day(s)' rate" if f.window_days < 6.5 else "at the last 7 days' rate"
    if metric == SEQUENCE_VALUE:
        return (f"`{display_name(f.subject)}` sequence reaches {power_of_two(f.limit)} in {describe_days(f.days_left)} "
                f"{rate} (now {f.current:,.0f}, +{f.per_day:,.0f}/day)")
    if metric == XID_AGE:
        return (f"transaction ID age reaches wraparound (2^31) in {describe_days(f.days_left)} {rate} "
                f"(now {f.current:,.0f}, +{f.per_day:,.0f}/day)")
    if metric == DATABASE_SIZE:
        return (f"database size reaches the {SIZE_LIMIT_SETTING} of {format_bytes(f.limit)} in {describe_days(f.days_left)} "
                f"{rate} (now {format_bytes(f.current)}, +{format_bytes(f.per_day)}/day)")
    return (f"client connections reach max_connections ({f.limit:.0f} usable) in {describe_days(f.days_left)} "
            f"{rate} (now ~{f.current:.0f}, +{f.per_day:.1f}/day)")


def with_size_limit(series_by_metric: Mapping[str, Mapping[str, list[Point]]], size_limit: float | None,
                    ) -> dict[str, Mapping[str, list[Point]]]:
    """The history with ``size_limit`` (DATABASE_SIZE_LIMIT) as the database size's limit."""
    found = dict(series_by_metric)
    if size_limit is not None and DATABASE_SIZE in found:
        found[DATABASE_SIZE] = {s: [Point(p.at, p.value, float(size_limit)) for p in points]
                                for s, points in found[DATABASE_SIZE].items()}
    return found


def size_growth(series_by_metric: Mapping[str, Mapping[str, list[Point]]], now: datetime) -> str:
    """``; the database grows 1.2 GiB/day (…)`` when its size grows and no limit is known, else ''."""
    points = series_by_metric.get(DATABASE_SIZE, {}).get("", [])
    latest = latest_point(points, now)
    if latest is None or latest.limit is not None:  # a limit: the forecast says it all
        return ""
    found = trend(points, now)
    if found is None or found.per_day <= 0 or found.last.limit is not None:
        return ""
    return (f"; the database grows {format_bytes(found.per_day)}/day (now {format_bytes(found.current)}; "
            f"set {SIZE_LIMIT_SETTING} to its disk's size for a days-until-full forecast: free disk is not "
            "visible from SQL)")


def forecasts(series_by_metric: Mapping[str, Mapping[str, list[Point]]], now: datetime) -> list[tuple[str, Forecast]]:
    """Every crossing forecast of the history, soonest first (plain data)."""
    found = []
    for metric, counter in METRICS:
        for subject, points in series_by_metric.get(metric, {}).items():
            f = forecast(subject, points, now, monotonic=counter)
            if f is not None:
                found.append((metric, f))
    return sorted(found, key=lambda mf: mf[1].days_left)


#: a sequence using this share of its limit is a HIGH alert whatever its rate (from NEARLY_FULL: MEDIUM)
NEARLY_EXHAUSTED = 0.95


def nearly_full(latest: Mapping[str, Point]) -> list[tuple[str, Point]]:
    """The sequences whose latest reading uses NEARLY_FULL of their limit or more, fullest first."""
    found = [(s, p) for s, p in latest.items() if p.limit and p.value >= NEARLY_FULL * p.limit]
    return sorted(found, key=lambda sp: -sp[1].value / float(sp[1].limit or 1))


def describe_full(subject: str, p: Point) -> str:
    """```Order.id` sequence is at 99.98% of 2^31 (2,147,000,000; 483,647 left)``."""
    limit = float(p.limit or 0)
    return (f"`{display_name(subject)}` sequence is at {p.value / limit:.2%} of {power_of_two(limit)} "
            f"({p.value:,.0f}; {limit - p.value:,.0f} left)")


def title(line: str, database: str) -> str:
    """An alert's title from its first line: capitalised, without the figures in brackets."""
    return f"{line[0].upper()}{line[1:].split(' (')[0]} on {database}"


def full_lines(full: list[tuple[str, Point]]) -> tuple[list[str], bool]:
    """The lines of the nearly full sequences, and whether one is NEARLY_EXHAUSTED (HIGH)."""
    return ([describe_full(s, p) for s, p in full],
            any(p.value >= NEARLY_EXHAUSTED * float(p.limit or 0) for _, p in full))


def evaluate(series_by_metric: Mapping[str, Mapping[str, list[Point]]], now: datetime, database: str,
             size_limit: float | None = None, *, recorded: bool = False,
             latest_sequences: Mapping[str, Point] | None = None) -> Outcome:
    """The check's verdict on the history of one database (plain data); ``size_limit``: the
    database size's limit in bytes (DATABASE_SIZE_LIMIT), when known; ``recorded``: there is
    history beyond ``series_by_metric`` (series ruled out before reading them);
    ``latest_sequences``: each sequence's latest reading (one nearly full is an alert at any rate)."""
    series_by_metric = with_size_limit(series_by_metric, size_limit)
    points = sum(len(p) for series in series_by_metric.values() for p in series.values()) + recorded
    found = forecasts(series_by_metric, now)
    growth = size_growth(series_by_metric, now)
    soon = [(m, f) for m, f in found if f.days_left <= WARN_DAYS]
    forecast_soon = {f.subject for m, f in soon if m == SEQUENCE_VALUE}
    full = [(s, p) for s, p in nearly_full(latest_sequences or {}) if s not in forecast_soon]
    extra, exhausted = full_lines(full)
    if full and not soon:  # nearly full at any rate (flat, or too little history for a forecast)
        subject = full[0][0]
        return Outcome(
            extra[0], None, "days",
            Problem("HIGH" if exhausted else "MEDIUM", "CAPACITY", title(extra[0], database),
                    "From the health history: " + "; ".join(extra) + ".", IMPACT[SEQUENCE_VALUE],
                    sequence_fixes(subject), key=f"{SEQUENCE_VALUE}:{subject}"))
    if not found:
        if points == 0:
            return Outcome("no health history yet (each recorded healthcheck run adds to it)", None, "days")
        longest = max((sorted(p.at for p in pts if p.at <= now) for series in series_by_metric.values()
                       for pts in series.values()), key=len, default=[])
        if len(longest) < MIN_POINTS or longest[-1] - longest[0] < MIN_SPAN:
            span = (longest[-1] - longest[0]) if longest else timedelta(0)
            return Outcome(f"not enough history for a forecast yet ({len(longest)} reading(s) over "
                           f"{span.total_seconds() / 60:.0f} min; {MIN_POINTS} over at least "
                           f"{MIN_SPAN.total_seconds() / 3600:.0f} h are needed)", None, "days")
        return Outcome(f"nothing growing toward a limit at the last 7 days' rate{growth}", None, "days")
    first_metric, first = found[0]
    if not soon:
        return Outcome(f"no limit within {WARN_DAYS:.0f} days; soonest: {describe(first_metric, first)}{growth}",
                       round(first.days_left, 1), "days")
    severity = "HIGH" if first.days_left <= CRITICAL_DAYS or exhausted else "MEDIUM"
    lines = [describe(m, f) for m, f in soon] + extra
    return Outcome(
        lines[0], round(first.days_left, 1), "days",
        Problem(severity, "CAPACITY", title(lines[0], database),
                "Forecast from the health history: " + "; ".join(lines) + ".",
                IMPACT[first_metric], suggestions(first_metric, first), key=f"{first_metric}:{first.subject}"),
    )


IMPACT = {
    SEQUENCE_VALUE: "When the sequence reaches the column's maximum every INSERT fails (nextval: reached maximum "
                    "value, or integer out of range).",
    XID_AGE: "At wraparound PostgreSQL refuses all writes until a manual VACUUM completes.",
    CONNECTIONS_USED: "When none are left, new requests fail with 'sorry, too many clients already'.",
    DATABASE_SIZE: "When the disk is full PostgreSQL refuses writes ('could not extend file ... No space left on "
                   "device') and may shut down. The size counted is the database's tables and indexes (catalog "
                   "sizes as of the last VACUUM / ANALYZE), not WAL or other databases on the same disk.",
}


def sequence_fixes(subject: str) -> tuple[str, ...]:
    """Exact commands that widen the column a sequence feeds (``schema.table.column``) and the
    sequence, or the sequence alone (``schema.sequence``)."""
    parts = split_subject(subject)
    if len(parts) == 3:
        schema, table, column = (quoted_if_needed(p) for p in parts)
        table_text = f"{schema}.{table}".replace("'", "''")
        column_text = parts[2].replace("'", "''")
        return (f"ALTER TABLE {schema}.{table} ALTER COLUMN {column} TYPE bigint;   -- rewrites the table under "
                "an ACCESS EXCLUSIVE lock: schedule it, or add a bigint column, backfill it and swap",
                f"SELECT format('ALTER SEQUENCE %s AS bigint;', pg_get_serial_sequence('{table_text}', "
                f"'{column_text}'));   -- prints the command that widens its sequence too",
                "then record the change as a migration (Prisma: make the field BigInt, then prisma migrate dev "
                "--create-only), or the schema drifts from its migrations")
    return (f"ALTER SEQUENCE {'.'.join(quoted_if_needed(p) for p in parts)} AS bigint;",)


def suggestions(metric: str, f: Forecast) -> tuple[str, ...]:
    """Exact commands for the soonest forecast."""
    if metric == SEQUENCE_VALUE:
        return sequence_fixes(f.subject)
    if metric == XID_AGE:
        return ("SELECT c.oid::regclass, age(c.relfrozenxid) FROM pg_class c WHERE c.relkind IN ('r','m','t') "
                "ORDER BY 2 DESC LIMIT 10;",
                "VACUUM (FREEZE, VERBOSE) <table>;   -- for the oldest tables above",
                "SELECT pid, xact_start, state FROM pg_stat_activity WHERE backend_xmin IS NOT NULL "
                "ORDER BY age(backend_xmin) DESC LIMIT 5;   -- what holds freezing back")
    if metric == DATABASE_SIZE:
        return ("SELECT c.oid::regclass, pg_size_pretty(pg_total_relation_size(c.oid)) FROM pg_class c "
                "WHERE c.relkind IN ('r', 'm') ORDER BY pg_total_relation_size(c.oid) DESC LIMIT 10;   -- the largest tables",
                f"grow the disk (or the storage plan) before it fills, then raise {SIZE_LIMIT_SETTING}")
    return ("SELECT usename, application_name, state, count(*) FROM pg_stat_activity GROUP BY 1, 2, 3 ORDER BY 4 DESC;",
            "put a pooler (PgBouncer) in front, or raise max_connections")


#: a counter whose average rate over its history leaves more than this many times WARN_DAYS to
#: its limit is not fitted at all (a Theil–Sen slope cannot be that much steeper than the average of
#: a growing series): hundreds of sequences far from their limits cost two index seeks
FAR_FACTOR = 10.0


def near_limit(ends: Mapping[str, tuple[Point | None, Point]]) -> list[str]:
    """The subjects of a counter that could reach their limit within ``FAR_FACTOR`` x WARN_DAYS at
    the average rate between their first and last readings (see ``reaches_limit_within``); a
    subject that is new, or went down (a reset: its trend restarts), cannot be ruled out."""
    return [subject for subject, (first, last) in ends.items()
            if reaches_limit_within(first, last, FAR_FACTOR * WARN_DAYS)]


def without_far_counters(series_by_metric: Mapping[str, Mapping[str, list[Point]]], now: datetime,
                         ) -> dict[str, Mapping[str, list[Point]]]:
    """The history without the counters :func:`near_limit` rules out (what ``run`` reads from the
    store, for a history in memory: the benchmark checks the rule drops no true event)."""
    found = dict(series_by_metric)
    since = now - WINDOW - timedelta(hours=1)
    for metric, counter in METRICS:
        if counter and metric in found:
            ends = {}
            for subject, points in found[metric].items():
                recent = sorted((p for p in points if p.at >= since), key=lambda p: p.at)
                if recent:
                    ends[subject] = (recent[0], recent[-1])
            keep = set(near_limit(ends))
            found[metric] = {s: p for s, p in found[metric].items() if s in keep}
    return found


def run(ctx: CheckContext) -> Outcome:
    key = database_key(ctx.target.dsn)
    since = ctx.now - WINDOW - timedelta(hours=1)
    with reading_store(ctx.settings) as store:
        if store is None:
            return evaluate({}, ctx.now, ctx.target.name)
        levels = store.metrics_series(key, [metric for metric, counter in METRICS if not counter], since)
        series, recorded, latest = {}, False, {}
        for metric, counter in METRICS:
            if counter:
                ends = sequence_ends(store, key, since)
                latest = {subject: last for subject, (_, last) in ends.items()}
                candidates = near_limit(ends)
                series[metric] = store.series(key, metric, since, candidates) if candidates else {}
                recorded = recorded or bool(ends)
            else:
                series[metric] = levels.get(metric, {})
    return evaluate(series, ctx.now, ctx.target.name, getattr(ctx.settings, "database_size_limit", None),
                    recorded=recorded, latest_sequences=latest)


CHECK = Check(NAME, "forecast from the health history: sequences, wraparound, connections, database size reaching "
              "their limit", run)
