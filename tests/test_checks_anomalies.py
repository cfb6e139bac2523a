"""anomalies: rate metrics against their hour-of-week baseline (median and MAD) from the health
history — on synthetic histories with known events (a connection spike at an unusual hour, a
transactions surge and drop, normal daily seasonality that must not alert, too little history),
and on a real database whose transactions rate jumps, through the alert lifecycle. Also: the check
reads the run's observations on the checks' session, so recording opens no session of its own."""

from __future__ import annotations

import math
import random
from datetime import datetime, timedelta, timezone
from pathlib import Path

import psycopg
import pytest

from migration_guard.tasks.healthcheck.base import CheckStatus, status_of
from migration_guard.tasks.healthcheck.checks import anomalies
from migration_guard.tasks.healthcheck.pipeline import run_healthcheck
from migration_guard.tasks.history.backend import open_store
from migration_guard.tasks.history.model import CONNECTIONS_USED, TRANSACTIONS, Observation, Point
from migration_guard.tasks.history.record import read_for_recording, record_healthcheck
from migration_guard.tasks.history.seasonal import baseline, counter_rates, slot_windows
from migration_guard.tasks.history.store import database_key
from migration_guard.tasks.settings import load_settings

TUESDAY_3AM = datetime(2026, 11, 24, 3, tzinfo=timezone.utc)
FIVE_MINUTES = timedelta(minutes=5)


def load(at: datetime) -> float:
    """Busy weekday afternoons (1.0), quiet nights (0.1), weekends at a third."""
    hour = at.hour + at.minute / 60
    day = 0.1 + 0.9 * max(0.0, math.sin(math.pi * (hour - 6) / 14)) if 6 <= hour <= 20 else 0.1
    return day * (0.35 if at.weekday() >= 5 else 1.0)


def connections(now: datetime, days: float, peak: float = 300, seed: int = 1) -> list[Point]:
    """Readings every 5 minutes over ``days`` before ``now`` (exclusive), seasonal with 8 % noise."""
    rng = random.Random(seed)
    count = int(days * 24 * 12)
    return [Point(now - FIVE_MINUTES * k, float(round(peak * load(now - FIVE_MINUTES * k) * rng.gauss(1, 0.08))))
            for k in range(count, 0, -1)]


def test_a_connection_spike_at_3am_alerts_with_the_expected_range_in_the_issues_words() -> None:
    history = connections(TUESDAY_3AM, 28)
    outcome = anomalies.evaluate({CONNECTIONS_USED: [*history, Point(TUESDAY_3AM, 182)]}, TUESDAY_3AM, "app")

    assert status_of(outcome) is CheckStatus.WARNING and outcome.observed_value == 1
    assert outcome.summary.startswith("client connections 182 at Tue 03:00 UTC, expected ")
    assert outcome.summary.endswith("from the last 4 weeks")
    low, high = outcome.summary.split("expected ")[1].split(" (")[0].split("–")
    assert 0 <= float(low) < 30 < float(high) < 60  # the night level is ~30
    problem = outcome.problem
    assert problem.severity == "MEDIUM" and problem.key == "connections_used:high"
    assert problem.title.startswith("Unusually high client connections on app: 182 at Tue 03:00 UTC (expected ")
    assert problem.suggestions[0].startswith("SELECT usename, application_name, client_addr, state, count(*)")


def test_the_afternoon_peak_and_the_quiet_night_are_normal() -> None:
    for now in (TUESDAY_3AM, TUESDAY_3AM + timedelta(hours=11), TUESDAY_3AM + timedelta(days=4, hours=10)):
        history = connections(now + FIVE_MINUTES, 28)  # the last point is the current reading
        outcome = anomalies.evaluate({CONNECTIONS_USED: history}, now, "app")
        assert outcome.problem is None, outcome.summary
        assert outcome.summary == "1 rate metric(s) within their usual range for this hour of the week"
    # the same afternoon level at 3 am is not normal: seasonality, not a fixed threshold
    assert anomalies.evaluate({CONNECTIONS_USED: [*connections(TUESDAY_3AM, 28), Point(TUESDAY_3AM, 290)]},
                              TUESDAY_3AM, "app").problem is not None


def test_too_little_history_is_no_verdict_not_an_alert() -> None:
    outcome = anomalies.evaluate({CONNECTIONS_USED: [*connections(TUESDAY_3AM, 2), Point(TUESDAY_3AM, 900)]},
                                 TUESDAY_3AM, "app")
    assert outcome.problem is None and status_of(outcome) is CheckStatus.OK
    assert outcome.summary.startswith("not enough history for a seasonal baseline yet (2.0 days;")
    assert anomalies.evaluate({}, TUESDAY_3AM, "app").summary.startswith("not enough history")


def test_under_three_weeks_the_same_hour_of_earlier_weekdays_is_the_baseline() -> None:
    history = connections(TUESDAY_3AM, 10)
    expected = baseline(history, TUESDAY_3AM, floor=2)
    assert expected.kind == "hour-of-day" and expected.day_kind == "weekday" and not expected.high_only
    assert expected.low < 30 < expected.high < 60
    assert "from the same hour of the last 6 weekdays (under 3 weeks of history)" in anomalies.evaluate(
        {CONNECTIONS_USED: [*history, Point(TUESDAY_3AM, 182)]}, TUESDAY_3AM, "app").summary
    # a quiet Sunday afternoon is judged against Sundays / Saturdays, not against the weekdays
    sunday = TUESDAY_3AM - timedelta(days=2) + timedelta(hours=12)
    quiet = connections(sunday + FIVE_MINUTES, 20)
    assert anomalies.evaluate({CONNECTIONS_USED: quiet}, sunday, "app").problem is None


def test_a_transactions_surge_and_a_drop_alert_and_a_reset_counter_does_not() -> None:
    now = TUESDAY_3AM + timedelta(hours=8)  # 11:00, busy
    rng, total, points = random.Random(2), 1e9, []
    for k in range(28 * 24 * 12, 0, -1):
        at = now - FIVE_MINUTES * k
        total += 500 * load(at) * rng.gauss(1, 0.05) * 300  # ~500/s at the peak
        points.append(Point(at, total))
    usual = 500 * load(now) * 300
    surge = anomalies.evaluate({TRANSACTIONS: [*points, Point(now, total + 5 * usual)]}, now, "app")
    drop = anomalies.evaluate({TRANSACTIONS: [*points, Point(now, total + 0.02 * usual)]}, now, "app")
    normal = anomalies.evaluate({TRANSACTIONS: [*points, Point(now, total + usual)]}, now, "app")
    reset = anomalies.evaluate({TRANSACTIONS: [*points, Point(now, 1000.0)]}, now, "app")

    assert surge.problem.key == "transactions_total:high" and surge.summary.startswith("transactions 2,")
    assert "/s at Tue 11:00 UTC, expected " in surge.summary
    assert drop.problem.key == "transactions_total:low" and drop.problem.title.startswith("Unusually low transactions")
    assert "application may be down" in drop.problem.impact
    assert normal.problem is None and reset.problem is None


def test_counter_rates_skip_resets_gaps_and_too_short_intervals() -> None:
    t = TUESDAY_3AM
    points = [Point(t, 0), Point(t + FIVE_MINUTES, 300), Point(t + 2 * FIVE_MINUTES, 10),  # reset
              Point(t + 3 * FIVE_MINUTES, 310), Point(t + 5 * FIVE_MINUTES + timedelta(hours=2), 999),  # gap
              Point(t + 6 * FIVE_MINUTES + timedelta(hours=2), 1299),
              Point(t + 6 * FIVE_MINUTES + timedelta(hours=2, seconds=20), 1399)]  # 20 s after: vs the one before
    rates = counter_rates(points, max_gap=timedelta(minutes=65))
    assert [(p.at - t, round(p.value, 2)) for p in rates] == [
        (FIVE_MINUTES, 1.0), (3 * FIVE_MINUTES, 1.0), (6 * FIVE_MINUTES + timedelta(hours=2), 1.0),
        (6 * FIVE_MINUTES + timedelta(hours=2, seconds=20), round(400 / 320, 2))]


def test_slot_windows_cover_the_same_time_of_day_and_the_last_readings() -> None:
    windows = slot_windows(TUESDAY_3AM, timedelta(days=2), timedelta(minutes=90))
    assert windows == [(TUESDAY_3AM - timedelta(days=2, minutes=90), TUESDAY_3AM - timedelta(days=2) + timedelta(minutes=90)),
                       (TUESDAY_3AM - timedelta(days=1, minutes=90), TUESDAY_3AM - timedelta(days=1) + timedelta(minutes=90)),
                       (TUESDAY_3AM - timedelta(minutes=90), TUESDAY_3AM)]


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_the_store_reads_only_the_slot_windows(kind: str, tmp_path: Path, db_url: str) -> None:
    settings = load_settings(database_url=db_url, log_dir=tmp_path / "logs",
                             **({"state_database_url": db_url} if kind == "postgres" else {}))
    with open_store(settings) as store:
        store.add_timed_observations([(TUESDAY_3AM - timedelta(hours=k), Observation("db", CONNECTIONS_USED, k))
                                      for k in range(48)])  # hourly for two days up to 03:00
        found = store.series_in_windows("db", CONNECTIONS_USED, slot_windows(TUESDAY_3AM, timedelta(days=1),
                                                                              timedelta(minutes=90)))
    assert [p.value for p in found[""]] == [25.0, 24.0, 23.0, 1.0, 0.0]  # 01:xx-04:30 yesterday, 01:30-03:00 today


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_one_query_for_all_metrics_reads_what_each_metrics_own_windows_hold(kind: str, tmp_path: Path,
                                                                           db_url: str) -> None:
    settings = load_settings(database_url=db_url, log_dir=tmp_path / "logs",
                             **({"state_database_url": db_url} if kind == "postgres" else {}))
    now = TUESDAY_3AM + timedelta(minutes=7)
    readings = [(TUESDAY_3AM - FIVE_MINUTES * k, Observation("db", m.name, k + i))
                for k in range(0, 12 * 24 * 30, 7) for i, m in enumerate(anomalies.METRICS)]
    with open_store(settings) as store:
        store.add_timed_observations(readings)
        one_query = anomalies.read_series(store, "db", now)
        per_metric = {m.name: store.series_in_windows("db", m.name, slot_windows(
            now, anomalies.LOOKBACK + timedelta(days=1), m.half_window)).get("", []) for m in anomalies.METRICS}
    assert one_query == per_metric
    assert all(len(points) > 100 for points in one_query.values())
    # the counters' windows are wider than the connections' (a rate needs the reading before)
    assert len(one_query[TRANSACTIONS]) > len(one_query[CONNECTIONS_USED])


def test_the_check_hands_its_readings_to_the_record_step_which_opens_no_session(db_url: str, tmp_path: Path) -> None:
    settings = load_settings(database_url=db_url, log_dir=tmp_path / "logs")
    key, at = database_key(db_url), datetime.now(timezone.utc)
    stranger = psycopg.conninfo.make_conninfo(db_url, user="mg_no_such_role")  # would fail to connect
    assert database_key(stranger) == key
    with psycopg.connect(db_url, autocommit=True) as conn:
        readings = read_for_recording(conn, key, at, None)
    assert {o.metric for o in readings.observations} >= {CONNECTIONS_USED, TRANSACTIONS}

    handed = record_healthcheck(settings, at, [stranger])
    again = record_healthcheck(settings, at, [stranger])  # taken once: now it must connect, and cannot

    assert handed.errors == [] and handed.observations == len(readings.observations)
    assert again.observations == 0 and len(again.errors) == 1 and "mg_no_such_role" in again.errors[0]


def test_a_real_transactions_surge_fires_and_resolves_through_the_alert_lifecycle(db_url: str, tmp_path: Path) -> None:
    settings = load_settings(database_url=db_url, log_dir=tmp_path / "logs", alerts_dir=tmp_path / "alerts")
    key, now = database_key(db_url), datetime.now(timezone.utc)
    with psycopg.connect(db_url, autocommit=True) as conn:
        current = conn.execute("SELECT xact_commit + xact_rollback FROM pg_stat_database "
                               "WHERE datname = current_database()").fetchone()[0]
    # four weeks of hourly readings (the default schedule) at 1 transaction a second, the last 5 minutes ago
    with open_store(settings) as store:
        store.add_timed_observations([(now - FIVE_MINUTES - timedelta(hours=k),
                                       Observation(key, TRANSACTIONS, current - 300 - 3600 * k))
                                      for k in range(28 * 24, -1, -1)])

    quiet = run_healthcheck(settings)
    row = next(r for r in quiet.results if r.check == "anomalies")
    assert row.status is CheckStatus.OK and row.summary.startswith("1 rate metric(s) within their usual range"), row.summary

    with psycopg.connect(db_url, autocommit=True) as conn:  # a retry storm: 3,000 transactions
        for _ in range(3000):
            conn.execute("SELECT 1")
    fired = run_healthcheck(settings)

    alert = next(a for a in fired.alerts.firing if a.check == "anomalies")
    assert alert.severity == "MEDIUM" and alert.title.startswith("Unusually high transactions on ")
    assert " UTC, expected 0.0/s–" in alert.message and "from the last 4 weeks" in alert.message
    with open_store(settings) as store:
        store.prune(datetime.now(timezone.utc) + timedelta(seconds=1))  # no history: no verdict, resolved
    resolved = run_healthcheck(settings)
    assert alert.id in [a.id for a in resolved.alerts.resolved]
