"""anomalies: a rate metric far outside what it usually reads at this time of the week — client
connections, transactions per second, pg_stat_statements calls per second — against a seasonal
baseline from the health history (median and MAD of the same hour of the week over the last 4
weeks; with fewer weeks, the same hour of day on earlier weekdays, or weekend days; nothing judged
before 3 such days).

Problem: a connection leak, a retry storm or a runaway job at 03:00 stays under every fixed
threshold (set for the afternoon peak) until it exhausts the server; an application that stopped
sending traffic at 10:00 on a Tuesday looks healthy to every other check. Solution: compare each
reading with its own hour of the week, and say the expected range in the alert.

This check also reads the run's observations for the health history on the checks' session (the
record step then opens none of its own).
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from migration_guard.tasks.checks.check import Check
from migration_guard.tasks.healthcheck.base import CheckContext, Outcome, Problem
from migration_guard.tasks.history.backend import reading_store
from migration_guard.tasks.history.model import CONNECTIONS_USED, STATEMENT_CALLS, TRANSACTIONS, Point
from migration_guard.tasks.history.record import Readings, read_for_recording
from migration_guard.tasks.history.seasonal import (
    LOOKBACK, MIN_DAYS, WIDE_SLOT, Baseline, baseline, counter_rates, history_span, slot_windows,
)
from migration_guard.tasks.history.store import HistoryStore, database_key

NAME = "anomalies"


@dataclass(frozen=True)
class RateMetric:
    """One metric judged against its seasonal baseline."""

    name: str
    #: what the alert calls it
    label: str
    #: a cumulative counter (judged by its per-second rate) or a level (judged as read)
    counter: bool
    #: the smallest robust deviation, in the judged unit (see ``seasonal.baseline``)
    floor: float
    #: the longest interval a rate is taken over / the oldest reading still taken as "now"
    max_gap: timedelta

    @property
    def half_window(self) -> timedelta:
        """The time-of-day windows read around now: the widest slot, and for a counter the reading
        before its first (a rate needs two), and its latest reading may be up to ``max_gap`` old."""
        return WIDE_SLOT + (self.max_gap if self.counter else timedelta(0))

    def format(self, value: float) -> str:
        if not self.counter:
            return f"{value:,.0f}"
        return f"{value:,.1f}/s" if value < 100 else f"{value:,.0f}/s"


METRICS = (
    RateMetric(CONNECTIONS_USED, "client connections", counter=False, floor=2.0, max_gap=timedelta(minutes=65)),
    RateMetric(TRANSACTIONS, "transactions", counter=True, floor=0.5, max_gap=timedelta(minutes=65)),
    RateMetric(STATEMENT_CALLS, "pg_stat_statements calls", counter=True, floor=0.5,
               max_gap=timedelta(hours=2, minutes=30)),
)
METRIC = {m.name: m for m in METRICS}


@dataclass(frozen=True)
class Anomaly:
    """A reading outside its slot's expected range."""

    metric: RateMetric
    at: datetime
    value: float
    expected: Baseline

    @property
    def high(self) -> bool:
        return self.value > self.expected.high

    @property
    def distance(self) -> float:
        """How far outside the range, in range half-widths (orders the anomalies)."""
        half = max(self.expected.high - self.expected.median, 1e-9)
        return abs(self.value - self.expected.median) / half

    def describe(self) -> str:
        """``client connections 182 at Tue 03:00 UTC, expected 20–45 (median 31) from the last 4 weeks``."""
        m, e = self.metric, self.expected
        return (f"{m.label} {m.format(self.value)} at {self.at:%a %H:%M} UTC, expected {m.format(e.low)}–"
                f"{m.format(e.high)} (median {m.format(e.median)}) {e.source}")


def judged_series(metric: RateMetric, points: Sequence[Point]) -> list[Point]:
    """The values judged: the readings of a level, the per-second rates of a counter."""
    return counter_rates(points, max_gap=metric.max_gap) if metric.counter else sorted(points, key=lambda p: p.at)


def find_anomalies(series: Mapping[str, Sequence[Point]], now: datetime) -> tuple[list[Anomaly], int]:
    """The anomalies of the latest readings (the last point of each series, when it is recent)
    against the earlier ones; and how many metrics could be judged. Plain data."""
    found, judged = [], 0
    for metric in METRICS:
        values = judged_series(metric, series.get(metric.name, ()))
        if not values or now - values[-1].at > metric.max_gap:
            continue
        latest = values[-1]
        expected = baseline(values[:-1], latest.at, floor=metric.floor)
        if expected is None:
            continue
        judged += 1
        if not expected.contains(latest.value):
            found.append(Anomaly(metric, latest.at, latest.value, expected))
    return sorted(found, key=lambda a: -a.distance), judged


def evaluate(series: Mapping[str, Sequence[Point]], now: datetime, database: str) -> Outcome:
    """The check's verdict: each series is the history plus the current reading as its last point."""
    anomalies, judged = find_anomalies(series, now)
    if not judged:
        span = max((history_span(p, now) for p in series.values()), default=timedelta(0))
        return Outcome(f"not enough history for a seasonal baseline yet ({span / timedelta(days=1):.1f} days; "
                       f"{MIN_DAYS} earlier weekdays or weekend days like today are needed)", 0, "anomalies")
    if not anomalies:
        return Outcome(f"{judged} rate metric(s) within their usual range for this hour of the week", 0, "anomalies")
    first = anomalies[0]
    lines = [a.describe() for a in anomalies]
    direction = "Unusually high" if first.high else "Unusually low"
    return Outcome(
        lines[0], len(anomalies), "anomalies",
        Problem("MEDIUM", "PERFORMANCE",
                f"{direction} {first.metric.label} on {database}: {first.metric.format(first.value)} "
                f"at {first.at:%a %H:%M} UTC (expected {first.metric.format(first.expected.low)}–"
                f"{first.metric.format(first.expected.high)})",
                "Compared with the same hour of the week in the health history: " + "; ".join(lines) + ".",
                IMPACT_HIGH if first.high else IMPACT_LOW, SUGGESTIONS[first.metric.name],
                key=f"{first.metric.name}:{'high' if first.high else 'low'}"),
    )


IMPACT_HIGH = ("Far more load than usual at this hour: a connection leak, a retry storm or a runaway job; if it "
               "keeps growing, connections or CPU run out for everyone.")
IMPACT_LOW = ("Far less traffic than usual at this hour: the application may be down, or failing before it "
              "reaches the database.")
SUGGESTIONS = {
    CONNECTIONS_USED: (
        ("SELECT usename, application_name, client_addr, state, count(*) FROM pg_stat_activity "
         "WHERE backend_type = 'client backend' GROUP BY 1, 2, 3, 4 ORDER BY 5 DESC LIMIT 20;"),),
    TRANSACTIONS: (
        ("SELECT usename, application_name, state, count(*), max(now() - xact_start) FROM pg_stat_activity "
         "WHERE backend_type = 'client backend' GROUP BY 1, 2, 3 ORDER BY 4 DESC LIMIT 20;"),),
    STATEMENT_CALLS: (
        ("SELECT calls, round(mean_exec_time::numeric, 2) AS mean_ms, left(query, 100) FROM pg_stat_statements "
         "WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) ORDER BY calls DESC LIMIT 10;"
         "   -- the most called statements since the last reset"),),
}


def read_series(store: HistoryStore, key: str, now: datetime) -> dict[str, list[Point]]:
    """The history a baseline at ``now`` needs: each metric's readings in its time-of-day windows
    (one query over the widest windows, each metric then kept to its own)."""
    own = {m.name: slot_windows(now, LOOKBACK + timedelta(days=1), m.half_window) for m in METRICS}
    widest = slot_windows(now, LOOKBACK + timedelta(days=1), max(m.half_window for m in METRICS))
    read = store.metrics_in_windows(key, [m.name for m in METRICS], widest)
    return {m.name: within(read.get(m.name, {}).get("", []), own[m.name]) for m in METRICS}


def within(points: Sequence[Point], windows: Sequence[tuple[datetime, datetime]]) -> list[Point]:
    """The points inside any of ``windows`` (start, end; inclusive; in time order, not overlapping)."""
    starts = [start for start, _ in windows]
    found = []
    for p in points:
        i = bisect_right(starts, p.at) - 1
        if i >= 0 and p.at <= windows[i][1]:
            found.append(p)
    return found


def with_current(series: dict[str, list[Point]], readings: Readings, now: datetime) -> dict[str, list[Point]]:
    """``series`` with this run's readings (taken ``now``) appended as the latest points (the
    statements' total only when this run takes a snapshot of them)."""
    for o in readings.observations:
        if o.metric in METRIC and not o.subject:
            series.setdefault(o.metric, []).append(Point(now, float(o.value)))
    if readings.statements:
        series.setdefault(STATEMENT_CALLS, []).append(Point(now, float(sum(s.calls for s in readings.statements))))
    return series


def run(ctx: CheckContext) -> Outcome:
    key = database_key(ctx.target.dsn)
    with reading_store(ctx.settings) as store:
        readings = read_for_recording(ctx.conn, key, ctx.now, store)
        series = read_series(store, key, ctx.now) if store is not None else {}
    return evaluate(with_current(series, readings, ctx.now), ctx.now, ctx.target.name)


CHECK = Check(NAME, "rate metrics (connections, transactions/s, statement calls/s) against their hour-of-week baseline",
              run)
