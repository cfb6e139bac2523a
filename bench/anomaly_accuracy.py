"""Precision and recall of the seasonal anomaly check on synthetic histories with planted events:
4 weeks (or 10 days) of readings every 5 minutes or every hour (the default schedule) with daily and weekly seasonality (busy weekday afternoons,
quiet nights and weekends) and noise. Planted: a connection spike at an unusual hour (a daytime
level at night), a transactions surge (a retry storm) and a drop to a trickle (the application is
down) at a busy hour. Not events: the same histories at any hour — the normal daily and weekly
seasonality, peaks included, must not alert; also with only 10 days of history (the hour-of-day
fallback, weekends included) and with 3 days (not enough history: no verdict, no alert).

Usage: .venv/bin/python bench/anomaly_accuracy.py [--cases 100] [--seed 1]
Target: precision and recall >= 0.9 in each scenario (a scenario without events: no false alert).
"""

from __future__ import annotations

import argparse
import math
import random
import sys
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import print_table  # noqa: E402
from migration_guard.tasks.healthcheck.checks.anomalies import evaluate  # noqa: E402
from migration_guard.tasks.history.model import CONNECTIONS_USED, STATEMENT_CALLS, TRANSACTIONS, Point  # noqa: E402

NOW = datetime(2026, 11, 20, 12, tzinfo=timezone.utc)  # a Friday
STEP = timedelta(minutes=5)


def load(at: datetime) -> float:
    """Traffic at ``at``, 1 at the weekday afternoon peak: 0.1 at night, weekends at a third."""
    hour = at.hour + at.minute / 60
    day = 0.1 + 0.9 * max(0.0, math.sin(math.pi * (hour - 6) / 14)) if 6 <= hour <= 20 else 0.1
    return day * (0.35 if at.weekday() >= 5 else 1.0)


def history(rng: random.Random, now: datetime, days: float, level: Callable[[datetime], float],
            counter: bool, step: timedelta = STEP) -> list[Point]:
    """Readings every ``step`` up to ``now`` (exclusive): a level with noise, or a counter whose
    per-second rate is that level."""
    points, total = [], rng.uniform(1e6, 1e9)
    at = now - timedelta(days=days)
    while at < now:
        value = max(level(at) * rng.gauss(1, 0.08), 0.0)
        if counter:
            total += value * step.total_seconds()
            points.append(Point(at, total))
        else:
            points.append(Point(at, float(round(value))))
        at += step
    return points


def at_hour(rng: random.Random, hours: range) -> datetime:
    """``NOW`` moved to a random day of the week at one of ``hours`` (with random minutes)."""
    return NOW + timedelta(days=rng.randrange(7)) + timedelta(hours=rng.choice(list(hours)) - 12,
                                                               minutes=rng.randrange(0, 60, 5))


def connection_spike(step: timedelta, days: float = 28) -> Callable[[random.Random, bool], tuple[dict, datetime]]:
    def make(rng: random.Random, event: bool) -> tuple[dict, datetime]:
        peak = rng.uniform(40, 300)
        now = at_hour(rng, range(5)) if event else at_hour(rng, range(24))
        if step >= timedelta(hours=1):
            now = now.replace(minute=0)
        points = history(rng, now, days, lambda at: peak * load(at), counter=False, step=step)
        current = peak * rng.uniform(0.5, 1.0) if event else peak * load(now) * rng.gauss(1, 0.08)
        return {CONNECTIONS_USED: [*points, Point(now, float(round(current)))]}, now
    return make


def transactions(rng: random.Random, event: bool) -> tuple[dict, datetime]:
    peak = rng.uniform(50, 3000)  # per second
    now = at_hour(rng, range(9, 18)) if event else at_hour(rng, range(24))
    points = history(rng, now, 28, lambda at: peak * load(at), counter=True)
    rate = peak * load(now) * rng.gauss(1, 0.08)
    if event:
        rate = rate * rng.uniform(3, 6) if rng.random() < 0.5 else rate * rng.uniform(0.0, 0.1)
    last = points[-1]
    points.append(Point(now, last.value + rate * (now - last.at).total_seconds()))
    return {TRANSACTIONS: points}, now


def seasonal_only(days: float, step: timedelta = STEP) -> Callable[[random.Random, bool], tuple[dict, datetime]]:
    def make(rng: random.Random, event: bool) -> tuple[dict, datetime]:
        peak = rng.uniform(20, 300)
        now = at_hour(rng, range(24))
        if step >= timedelta(hours=1):
            now = now.replace(minute=0)
        connections = history(rng, now + step, days, lambda at: peak * load(at), counter=False, step=step)
        txns = history(rng, now + step, days, lambda at: 10 * peak * load(at), counter=True, step=step)
        return {CONNECTIONS_USED: connections, TRANSACTIONS: txns}, now
    return make


def statement_calls_hourly(rng: random.Random, event: bool) -> tuple[dict, datetime]:
    """Hourly pg_stat_statements snapshots (a counter of calls); the event: 4-8x the usual rate."""
    peak = rng.uniform(100, 5000)
    now = at_hour(rng, range(8, 19)) if event else at_hour(rng, range(24))
    points, total, at = [], rng.uniform(1e6, 1e9), now - timedelta(days=28)
    while at < now:
        total += peak * load(at) * rng.gauss(1, 0.08) * 3600
        points.append(Point(at, total))
        at += timedelta(hours=1)
    rate = peak * load(now) * rng.gauss(1, 0.08) * (rng.uniform(4, 8) if event else 1.0)
    points.append(Point(now, points[-1].value + rate * (now - points[-1].at).total_seconds()))
    return {STATEMENT_CALLS: points}, now


SCENARIOS: dict[str, tuple[Callable[[random.Random, bool], tuple[dict, datetime]], bool]] = {
    "connection spike at an unusual hour (4 weeks, every 5 min)": (connection_spike(STEP), True),
    "connection spike at an unusual hour (4 weeks, hourly)": (connection_spike(timedelta(hours=1)), True),
    "connection spike at an unusual hour (10 days, hourly)": (connection_spike(timedelta(hours=1), 10), True),
    "transactions/s surge or drop at a busy hour": (transactions, True),
    "statement calls/s surge (hourly snapshots)": (statement_calls_hourly, True),
    "normal daily + weekly seasonality (4 weeks, every 5 min)": (seasonal_only(28), False),
    "normal daily + weekly seasonality (4 weeks, hourly)": (seasonal_only(28, timedelta(hours=1)), False),
    "normal seasonality, 10 days hourly (hour-of-day fallback)": (seasonal_only(10, timedelta(hours=1)), False),
    "normal seasonality, 10 days every 5 min (hour-of-day)": (seasonal_only(10), False),
    "normal seasonality, 3 days (not enough history)": (seasonal_only(3), False),
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cases", type=int, default=100)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    rows, ok = [], True
    for name, (make, has_events) in SCENARIOS.items():
        tp = fp = fn = tn = 0
        for i in range(args.cases):
            event = has_events and i % 2 == 0
            series, now = make(rng, event)
            flagged = evaluate(series, now, "bench").problem is not None
            tp, fp, fn, tn = tp + (event and flagged), fp + (not event and flagged), fn + (event and not flagged), \
                tn + (not event and not flagged)
        precision = tp / (tp + fp) if tp + fp else (1.0 if not fp else 0.0)
        recall = tp / (tp + fn) if tp + fn else 1.0
        ok &= precision >= 0.9 and recall >= 0.9 and (has_events or fp == 0)
        rows.append((name, tp + fn, fp + tn, tp, fp, fn, f"{precision:.2f}" if has_events else "-",
                     f"{recall:.2f}" if has_events else "-", f"{fp / max(fp + tn, 1):.3f}"))
    print_table(f"Seasonal anomalies on planted events (seed {args.seed}, {args.cases} cases per scenario)",
                ["scenario", "events", "non-events", "TP", "FP", "FN", "precision", "recall", "false-alert rate"],
                rows)
    print(f"\ntarget precision and recall >= 0.9 in every scenario, no false alert without events: "
          f"{'met' if ok else 'NOT met'}")


if __name__ == "__main__":
    main()
