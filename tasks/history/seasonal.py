"""Is a rate metric unusual for this time of the week? A seasonal baseline: the median and the MAD
(median absolute deviation) of the readings taken at the same time of week (±30 minutes, ±90 when
that holds too few readings) in the
last 4 weeks, or, with fewer than 3 such weeks, at the same time of day on the last days of the
same kind (weekdays, or weekend days: a quiet Sunday is not an anomaly against Fridays) — for a
weekend slot with too few weekend days, on all the last days, judging only high readings. Median
and MAD rather than mean and standard deviation: one past incident in the slot does not widen the
expected range. Plain data."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from migration_guard.tasks.history.model import Point

LOOKBACK = timedelta(weeks=4)
#: a slot is the time of week (or day) of the reading ± this; ± WIDE_SLOT when that holds too few
#: readings (hourly healthchecks: one a week)
HALF_SLOT = timedelta(minutes=30)
WIDE_SLOT = timedelta(minutes=90)
#: the baseline holds earlier days' readings only (today's may already be the incident)
RECENT_EXCLUDED = timedelta(hours=12)
#: an hour-of-week baseline needs readings from this many distinct weeks; else hour-of-day ...
MIN_WEEKS = 3
#: ... from this many distinct days of the same kind (weekday / weekend); else too little history
MIN_DAYS = 3
#: a slot with fewer readings than this is too thin for a MAD
MIN_SAMPLES = 8
#: the expected range is the median ± this many robust standard deviations (1.4826 x MAD), widened
#: for a slot of few readings
DEVIATIONS = 4.0
#: the robust deviation is at least this share of the median (a flat series is not alarmed by noise)
RELATIVE_FLOOR = 0.05
MAD_TO_SIGMA = 1.4826
#: the shortest interval a counter's rate is taken over
MIN_INTERVAL = timedelta(minutes=4)
WEEK = timedelta(weeks=1)
DAY = timedelta(days=1)


@dataclass(frozen=True)
class Baseline:
    """What a metric usually reads in one slot: median, expected range, and where that came from."""

    median: float
    low: float
    high: float
    #: ``hour-of-week`` or ``hour-of-day`` (the fallback)
    kind: str
    #: distinct weeks (hour-of-week) or days (hour-of-day) behind it
    periods: int
    samples: int
    #: ``weekday`` / ``weekend``: the kind of day of the slot
    day_kind: str = "weekday"
    #: an hour-of-day baseline of every kind of day (too few of the slot's kind): a low reading
    #: is not judged (a quiet weekend is normal)
    high_only: bool = False

    def contains(self, value: float) -> bool:
        return self.low <= value <= self.high

    @property
    def source(self) -> str:
        """``from the last 4 weeks`` / ``from the same hour of the last 6 days``."""
        if self.kind == "hour-of-week":
            return f"from the last {self.periods} weeks"
        if self.high_only:
            return f"from the same hour of the last {self.periods} days (under {MIN_WEEKS} weeks of history)"
        return (f"from the same hour of the last {self.periods} {'weekdays' if self.day_kind == 'weekday' else 'weekend days'} "
                f"(under {MIN_WEEKS} weeks of history)")


def slot_windows(at: datetime, lookback: timedelta = LOOKBACK, half: timedelta = WIDE_SLOT,
                 ) -> list[tuple[datetime, datetime]]:
    """The time windows a baseline at ``at`` reads: the same time of day ± ``half`` on every day of
    ``lookback`` before it, and the last ``half`` up to ``at`` (the latest readings). A store reads
    only these (1/24 of the history)."""
    days = int(lookback / DAY)
    return [(at - d * DAY - half, at - d * DAY + (half if d else timedelta(0))) for d in range(days, -1, -1)]


def _circular_distance(a: timedelta, b: timedelta, period: timedelta) -> timedelta:
    distance = abs(a - b) % period
    return min(distance, period - distance)


def _weekend(at: datetime) -> bool:
    return at.weekday() >= 5


def _periods(points: Sequence[Point], at: datetime, period: timedelta) -> set[int]:
    return {round((at - p.at) / period) for p in points}


def _slot(points: Sequence[Point], at: datetime, period: timedelta, min_periods: int, *, same_kind: bool) -> tuple[list[Point], int] | None:
    """The points at ``at``'s time of ``period`` (± HALF_SLOT, else ± WIDE_SLOT when that is too
    thin) with how many distinct periods they span; None when even the wide slot is too thin."""
    for half in (HALF_SLOT, WIDE_SLOT):
        slot = [p for p in points if _circular_distance(p.at - at, timedelta(0), period) <= half
                and (not same_kind or _weekend(p.at) == _weekend(at))]
        periods = len(_periods(slot, at, period))
        if periods >= min_periods and len(slot) >= MIN_SAMPLES:
            return slot, periods
    return None


def baseline(points: Sequence[Point], at: datetime, *, floor: float = 0.0, lookback: timedelta = LOOKBACK,
             ) -> Baseline | None:
    """The expected range of the metric at ``at`` from ``points`` (any order; those of the last
    ``RECENT_EXCLUDED`` are ignored), or None when there is not enough history.

    Args:
        floor: the smallest robust deviation, in the metric's unit (2 connections, 0.5 per second):
            a series that barely moves is not alarmed by a change nobody would notice.
    """
    earlier = [p for p in points if at - lookback - WIDE_SLOT <= p.at <= at - RECENT_EXCLUDED]
    chosen, kind, high_only = _slot(earlier, at, WEEK, MIN_WEEKS, same_kind=False), "hour-of-week", False
    if chosen is None:
        chosen, kind = _slot(earlier, at, DAY, MIN_DAYS, same_kind=True), "hour-of-day"
    if chosen is None and _weekend(at):
        # a weekend slot against every day: weekdays are the busier ones, so only an unusually high
        # reading is judged (never the other way round: weekend days would make a weekday look busy)
        chosen, high_only = _slot(earlier, at, DAY, MIN_DAYS, same_kind=False), True
    if chosen is None:
        return None
    slot, periods = chosen
    values = [p.value for p in slot]
    median = statistics.median(values)
    mad = statistics.median(abs(v - median) for v in values)
    # a MAD from few readings is itself uncertain: the fewer, the wider the range (x1.35 at 8, x1.14 at 52)
    spread = DEVIATIONS * (1 + 1 / math.sqrt(len(values))) * max(MAD_TO_SIGMA * mad, RELATIVE_FLOOR * abs(median), floor)
    return Baseline(median, 0.0 if high_only else max(median - spread, 0.0), median + spread, kind, periods,
                    len(values), "weekend" if _weekend(at) else "weekday", high_only)


def history_span(points: Sequence[Point], at: datetime) -> timedelta:
    """How far back ``points`` reach from ``at`` (zero without points)."""
    return at - min(p.at for p in points) if points else timedelta(0)


def counter_rates(points: Sequence[Point], *, max_gap: timedelta, min_interval: timedelta = MIN_INTERVAL,
                  ) -> list[Point]:
    """Per-second rates of a cumulative counter, each stamped at its reading and taken since the
    latest earlier reading at least ``min_interval`` before it (two runs a few seconds apart would
    give a rate of their own queries); none across a drop (a statistics reset, a restart) nor over
    more than ``max_gap`` (a gap in the history)."""
    ordered = sorted(points, key=lambda p: p.at)
    rates, start = [], 0  # start: the first reading since the last drop
    for i, after in enumerate(ordered):
        if i and after.value < ordered[i - 1].value:
            start = i
            continue
        j = i - 1
        while j >= start and after.at - ordered[j].at < min_interval:
            j -= 1
        if j < start:
            continue
        seconds = (after.at - ordered[j].at).total_seconds()
        if seconds <= max_gap.total_seconds():
            rates.append(Point(after.at, (after.value - ordered[j].value) / seconds))
    return rates
