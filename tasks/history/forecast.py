"""When will a growing metric cross its limit? A Theil–Sen line (the median of pairwise slopes:
one wild reading cannot tilt it) over the recent history, extrapolated to the limit. Plain data."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from migration_guard.tasks.history.model import Point

WINDOW = timedelta(days=7)
MIN_POINTS = 4
MIN_SPAN = timedelta(hours=1)
#: pairwise slopes are O(n^2): a longer series is thinned evenly to this many points first (780
#: slopes; a week of hourly readings is 169; bench/forecast_accuracy.py: days error 0.7-3.7 %, as
#: with 60 points)
MAX_POINTS = 40
DAY = 86400.0


@dataclass(frozen=True)
class Forecast:
    """Where a series stands and when, at its recent rate, it reaches its limit."""

    subject: str
    current: float
    limit: float
    per_day: float
    days_left: float
    window_days: float
    points: int


def theil_sen(xs: Sequence[float], ys: Sequence[float]) -> tuple[float, float]:
    """(slope, intercept) of the Theil–Sen line through the points (xs need not be sorted; pairs
    with equal x are skipped). Raises ValueError with fewer than two distinct xs."""
    slopes = [(ys[j] - ys[i]) / (xs[j] - xs[i])
              for i in range(len(xs)) for j in range(i + 1, len(xs)) if xs[j] != xs[i]]
    if not slopes:
        raise ValueError("a trend needs at least two distinct times")
    slope = statistics.median(slopes)
    return slope, statistics.median(y - slope * x for x, y in zip(xs, ys, strict=True))


def _thinned(points: list[Point]) -> list[Point]:
    if len(points) <= MAX_POINTS:
        return points
    step = (len(points) - 1) / (MAX_POINTS - 1)
    return [points[round(i * step)] for i in range(MAX_POINTS)]


@dataclass(frozen=True)
class Trend:
    """A series' recent rate: where it stands (its last value, or the fitted line's) and per day."""

    current: float
    per_day: float
    window_days: float
    points: int
    #: the latest point (its time and limit)
    last: Point


def trend(points: Sequence[Point], now: datetime, *, monotonic: bool = False, window: timedelta = WINDOW,
          ) -> Trend | None:
    """The Theil–Sen trend of a series over ``window`` up to ``now``, or None when there is too
    little history (fewer than ``MIN_POINTS`` over less than ``MIN_SPAN``).

    Args:
        monotonic: a counter (a sequence): only the points since its last drop count (a reset
            starts a new trend), and "now" is its latest value; otherwise (connections) "now" is
            the fitted line's value at the latest reading, so one spike is not taken for the level.
    """
    recent = sorted((p for p in points if now - window <= p.at <= now), key=lambda p: p.at)
    if monotonic:
        for i in range(len(recent) - 1, 0, -1):
            if recent[i].value < recent[i - 1].value:
                recent = recent[i:]
                break
    if len(recent) < MIN_POINTS or recent[-1].at - recent[0].at < MIN_SPAN:
        return None
    recent = _thinned(recent)
    origin = recent[0].at
    xs = [(p.at - origin).total_seconds() / DAY for p in recent]
    slope, intercept = theil_sen(xs, [p.value for p in recent])
    current = recent[-1].value if monotonic else slope * xs[-1] + intercept
    return Trend(current, slope, xs[-1], len(recent), recent[-1])


def forecast(subject: str, points: Sequence[Point], now: datetime, *, monotonic: bool = False,
             window: timedelta = WINDOW) -> Forecast | None:
    """The crossing forecast of one series (see :func:`trend`), or None when there is too little
    history, no limit (on the latest point), or no growth."""
    latest = latest_point(points, now)
    if latest is None or latest.limit is None:  # nothing to cross: no fit
        return None
    found = trend(points, now, monotonic=monotonic, window=window)
    if found is None or found.last.limit is None or found.per_day <= 0:
        return None
    limit = float(found.last.limit)
    elapsed = (now - found.last.at).total_seconds() / DAY
    days_left = max((limit - found.current) / found.per_day - elapsed, 0.0)
    return Forecast(subject, found.current, limit, found.per_day, days_left, found.window_days, found.points)


def latest_point(points: Sequence[Point], now: datetime) -> Point | None:
    """The latest point taken at or before ``now`` (None when there is none)."""
    return max((p for p in points if p.at <= now), key=lambda p: p.at, default=None)


def reaches_limit_within(first: Point | None, last: Point, days: float) -> bool | None:
    """Whether a counter could reach its limit within ``days`` at the average rate between its
    ``first`` and ``last`` readings: True when it could, when it is new (no ``first``) or went down
    (a reset: its trend restarts); False when it cannot (no limit, flat, or too slow); None when
    its rate is unknown (one reading only). Two readings, no fit: the many series nowhere near
    their limit are ruled out before any is read point by point."""
    if last.limit is None:
        return False
    if first is None or last.value < first.value:
        return True
    span_days = (last.at - first.at).total_seconds() / DAY
    if span_days <= 0:
        return None
    if last.value == first.value:
        return False
    return (last.limit - last.value) / ((last.value - first.value) / span_days) <= days


def describe_days(days: float) -> str:
    """``~9 days``, ``~5 hours``, ``now``, ``more than 10 years``."""
    if days <= 0:
        return "now"
    if days > 3650:
        return "more than 10 years"
    if days < 1:
        return f"~{max(1, round(days * 24))} hours"
    return f"~{round(days)} day" + ("" if round(days) == 1 else "s")


def power_of_two(limit: float) -> str:
    """``2^31`` for 2^31 or 2^31 - 1, else the number with thousands separators."""
    exponent = round(math.log2(limit + 1)) if limit > 0 else 0
    if exponent and abs(limit - 2**exponent) <= 1:
        return f"2^{exponent}"
    return f"{limit:,.0f}"
