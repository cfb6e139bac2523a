"""capacity_forecast: a Theil–Sen trend over the last 7 days of health history forecasts when a
sequence, the transaction ID age or the connections reach their limit — on synthetic histories
with known events, and on a real int4 sequence advanced by setval at simulated times."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone
from pathlib import Path

import psycopg
import pytest

from migration_guard.tasks.healthcheck.base import CheckContext, CheckStatus, status_of
from migration_guard.tasks.healthcheck.checks import capacity_forecast
from migration_guard.tasks.healthcheck.config import HealthcheckConfig
from migration_guard.tasks.healthcheck.runner import open_check_connection
from migration_guard.tasks.healthcheck.target import DatabaseTarget
from migration_guard.tasks.history.forecast import forecast, theil_sen
from migration_guard.tasks.history.model import CONNECTIONS_USED, DATABASE_SIZE, SEQUENCE_VALUE, XID_AGE, Point
from migration_guard.tasks.history.record import record_healthcheck
from migration_guard.tasks.settings import load_settings

NOW = datetime(2026, 11, 20, 12, tzinfo=timezone.utc)
INT4 = 2**31 - 1


def hourly(days: float, value, limit: float, *, end: datetime = NOW) -> list[Point]:
    """Points every hour over ``days`` up to ``end``; ``value(hours_before_end)``."""
    hours = int(days * 24)
    return [Point(end - timedelta(hours=h), float(value(h)), limit) for h in range(hours, -1, -1)]


def test_theil_sen_ignores_a_wild_reading() -> None:
    xs = list(range(10))
    ys = [2.0 * x + 1 for x in xs]
    ys[4] = 1000.0
    slope, intercept = theil_sen(xs, ys)
    assert slope == pytest.approx(2.0) and intercept == pytest.approx(1.0)


def test_a_sequence_nine_days_from_int4_is_a_medium_alert_in_the_issues_words() -> None:
    rate = 5_000_000  # ids a day
    points = hourly(7, lambda h: INT4 - 9 * rate - rate * h / 24, INT4)
    outcome = capacity_forecast.evaluate({SEQUENCE_VALUE: {'public."Order".id': points}}, NOW, "app")
    assert status_of(outcome) is CheckStatus.WARNING
    assert outcome.summary.startswith("`Order.id` sequence reaches 2^31 in ~9 days at the last 7 days' rate")
    assert outcome.observed_value == pytest.approx(9, abs=0.1)
    problem = outcome.problem
    assert problem.severity == "MEDIUM" and problem.key == 'sequence_last_value:public."Order".id'
    assert problem.suggestions[0].startswith('ALTER TABLE public."Order" ALTER COLUMN id TYPE bigint;')
    assert "pg_get_serial_sequence('public.\"Order\"', 'id')" in problem.suggestions[1]


def test_within_a_week_is_high_and_the_soonest_series_leads() -> None:
    points = {'public."Order".id': hourly(7, lambda h: INT4 - 3 * 1e6 - 1e6 * h / 24, INT4),
              "public.user.id": hourly(7, lambda h: INT4 - 20 * 1e6 - 1e6 * h / 24, INT4)}
    outcome = capacity_forecast.evaluate({SEQUENCE_VALUE: points}, NOW, "app")
    assert outcome.problem.severity == "HIGH" and "`Order.id` sequence reaches 2^31 in ~3 days" in outcome.summary
    assert "`user.id` sequence reaches 2^31 in ~20 days" in outcome.problem.message


def test_a_slow_wraparound_climb_is_forecast() -> None:
    points = hourly(7, lambda h: 1_700_000_000 - 40_000_000 * h / 24, 2**31)
    outcome = capacity_forecast.evaluate({XID_AGE: {"": points}}, NOW, "app")
    expected_days = (2**31 - 1_700_000_000) / 40_000_000
    assert outcome.observed_value == pytest.approx(expected_days, abs=0.1)
    assert outcome.summary.startswith("transaction ID age reaches wraparound (2^31) in ~11 days")


def test_autovacuum_sawtooth_and_noisy_flat_connections_raise_nothing() -> None:
    rng = random.Random(7)
    sawtooth = hourly(7, lambda h: 150_000_000 + 2_000_000 * ((168 - h) % 24), 2**31)  # frozen back every day
    connections = hourly(7, lambda h: 40 + rng.randint(-8, 8) + (50 if h == 30 else 0), 97)  # one spike
    outcome = capacity_forecast.evaluate({XID_AGE: {"": sawtooth}, CONNECTIONS_USED: {"": connections}}, NOW, "app")
    assert outcome.problem is None and status_of(outcome) is CheckStatus.OK


def test_growing_connections_reach_max_connections() -> None:
    rng = random.Random(3)
    points = hourly(7, lambda h: 30 + 5 * (168 - h) / 24 + rng.uniform(-2, 2), 97)
    f = forecast("", points, NOW)
    assert f is not None and f.per_day == pytest.approx(5, abs=0.5) and f.days_left == pytest.approx(6.4, abs=0.8)
    outcome = capacity_forecast.evaluate({CONNECTIONS_USED: {"": points}}, NOW, "app")
    assert outcome.problem.severity == "HIGH" and "client connections reach max_connections (97 usable)" in outcome.summary


def test_a_reset_sequence_starts_a_new_trend_and_short_history_says_so() -> None:
    before_reset = hourly(3, lambda h: INT4 - 1e6 * h, INT4, end=NOW - timedelta(days=2))  # racing, then reset
    after_reset = hourly(1.9, lambda h: 1000 + 10 * (46 - h), INT4)
    assert forecast("s", before_reset + after_reset, NOW, monotonic=True).days_left > 1e6
    assert forecast("s", hourly(0.5, lambda h: INT4 - 100 - h, INT4), NOW, monotonic=True) is not None  # 13 points, 12 h
    assert forecast("s", [Point(NOW, 1, INT4), Point(NOW - timedelta(minutes=5), 0, INT4)], NOW) is None
    outcome = capacity_forecast.evaluate({}, NOW, "app")
    assert outcome.summary.startswith("no health history yet") and outcome.problem is None


def test_a_real_int4_sequence_advanced_by_setval_over_simulated_days(db_url: str, tmp_path: Path) -> None:
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute('CREATE TABLE "Order" (id serial PRIMARY KEY, total int)')
        conn.execute("CREATE TABLE calm (id bigserial PRIMARY KEY)")
        conn.execute("SELECT setval(pg_get_serial_sequence('calm', 'id'), 5)")
    settings = load_settings(database_url=db_url, log_dir=tmp_path / "logs")
    rate = 8_000_000  # ids a day: 2^31 - 1 is ~9 days past the last reading
    start_value = INT4 - 9 * rate - 3 * rate
    with psycopg.connect(db_url, autocommit=True) as conn:
        for step in range(0, 3 * 24 + 1, 3):  # every 3 hours over 3 simulated days
            at = NOW - timedelta(hours=3 * 24 - step)
            conn.execute("SELECT setval(pg_get_serial_sequence('\"Order\"', 'id'), %s)",
                         (start_value + rate * step // 24,))
            result = record_healthcheck(settings, at, [db_url])
            assert result.errors == []
    target = DatabaseTarget(name="app", dsn=db_url)
    conn = open_check_connection(target, settings)
    try:
        outcome = capacity_forecast.CHECK.run(CheckContext(target, conn, settings, HealthcheckConfig(), NOW))
    finally:
        conn.close()
    assert outcome.problem is not None and outcome.problem.severity == "MEDIUM"
    assert outcome.summary.startswith("`Order.id` sequence reaches 2^31 in ~9 days at the last 3 day(s)' rate")
    assert "+8,000,000/day" in outcome.summary
    assert "calm" not in outcome.problem.message


GIB = 2**30


def test_database_size_with_a_limit_forecasts_days_until_full() -> None:
    points = hourly(7, lambda h: 50 * GIB - GIB * h / 24, None)  # +1 GiB a day, 50 GiB now
    outcome = capacity_forecast.evaluate({DATABASE_SIZE: {"": points}}, NOW, "app", size_limit=60 * GIB)
    assert outcome.observed_value == pytest.approx(10, abs=0.1)
    assert outcome.summary.startswith("database size reaches the DATABASE_SIZE_LIMIT of 60.0 GiB in ~10 days "
                                      "at the last 7 days' rate (now 50.0 GiB, +1.0 GiB/day)")
    problem = outcome.problem
    assert problem.severity == "MEDIUM" and problem.key == "database_size_bytes:"
    assert problem.title == "Database size reaches the DATABASE_SIZE_LIMIT of 60.0 GiB in ~10 days at the last 7 days' rate on app"
    assert problem.suggestions[0].startswith("SELECT c.oid::regclass, pg_size_pretty(pg_total_relation_size(c.oid))")


def test_database_size_without_a_limit_gives_a_rate_and_no_date() -> None:
    points = hourly(7, lambda h: 50 * GIB - 2 * GIB * h / 24, None)
    outcome = capacity_forecast.evaluate({DATABASE_SIZE: {"": points}}, NOW, "app")
    assert outcome.problem is None and outcome.observed_value is None
    assert "the database grows 2.0 GiB/day (now 50.0 GiB; set DATABASE_SIZE_LIMIT" in outcome.summary
    assert "days-until-full" in outcome.summary and " in ~" not in outcome.summary
    shrinking = hourly(7, lambda h: 50 * GIB + GIB * h / 24, None)  # VACUUM FULL / deletes: nothing to say
    assert "grows" not in capacity_forecast.evaluate({DATABASE_SIZE: {"": shrinking}}, NOW, "app").summary


def test_database_size_limit_setting_takes_sizes_and_refuses_words(tmp_path: Path) -> None:
    from migration_guard.tasks.errors import ConfigError

    assert load_settings(database_url="postgresql://u@h/d", database_size_limit="200GB").database_size_limit == 200 * GIB
    assert load_settings(database_url="postgresql://u@h/d", database_size_limit="1.5 TiB").database_size_limit \
        == int(1.5 * 1024 * GIB)
    assert load_settings(database_url="postgresql://u@h/d", database_size_limit="").database_size_limit is None
    with pytest.raises(ConfigError, match="DATABASE_SIZE_LIMIT: expected a size like 200GB"):
        load_settings(database_url="postgresql://u@h/d", database_size_limit="lots")


def test_a_real_database_growing_toward_database_size_limit(db_url: str, tmp_path: Path) -> None:
    """The recorded size is the catalog's page count: rows inserted and ANALYZEd between simulated
    readings grow it; with DATABASE_SIZE_LIMIT a little above, the check forecasts the day."""
    settings = load_settings(database_url=db_url, log_dir=tmp_path / "logs")
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE blobs (id serial PRIMARY KEY, payload text)")
        for step in range(0, 3 * 24 + 1, 6):  # every 6 hours over 3 simulated days, ~400 kB more each time
            conn.execute("INSERT INTO blobs (payload) SELECT repeat(md5(g::text), 12) FROM generate_series(1, 1000) g")
            conn.execute("ANALYZE blobs")
            assert record_healthcheck(settings, NOW - timedelta(hours=3 * 24 - step), [db_url]).errors == []
        size = conn.execute("SELECT sum(relpages)::bigint * current_setting('block_size')::bigint FROM pg_class"
                            ).fetchone()[0]
    target = DatabaseTarget(name="app", dsn=db_url)
    unlimited = load_settings(database_url=db_url, log_dir=tmp_path / "logs")
    limited = load_settings(database_url=db_url, log_dir=tmp_path / "logs", database_size_limit=str(size + 20 * 2**20))
    conn = open_check_connection(target, settings)
    try:
        without = capacity_forecast.CHECK.run(CheckContext(target, conn, unlimited, HealthcheckConfig(), NOW))
        with_limit = capacity_forecast.CHECK.run(CheckContext(target, conn, limited, HealthcheckConfig(), NOW))
    finally:
        conn.close()
    assert without.problem is None and "the database grows 1." in without.summary  # ~1.6 MB a day
    assert with_limit.problem is not None and with_limit.summary.startswith(
        "database size reaches the DATABASE_SIZE_LIMIT of ")
    assert 8 <= with_limit.observed_value <= 20  # 20 MiB at ~1.6 MB a day


def test_sequences_far_from_their_limit_are_ruled_out_before_any_fit() -> None:
    def ends(first: float | None, last: float) -> tuple[Point | None, Point]:
        return (None if first is None else Point(NOW - timedelta(days=7), first, INT4)), Point(NOW, last, INT4)

    found = capacity_forecast.near_limit({
        "near": ends(INT4 - 8e6, INT4 - 1e6),     # 1M a day, 1 day left
        "far": ends(1000, 8000),                  # 1,000 a day
        "flat": ends(5, 5),
        "edge": ends(0, 7 * INT4 / 300),          # ~293 days left: still fitted
        "reset": ends(2e9, 10),                   # restarted: its new trend cannot be ruled out
        "new": ends(None, 10)})
    assert sorted(found) == ["edge", "near", "new", "reset"]


def test_run_reads_and_fits_only_the_sequences_near_their_limit(db_url: str, tmp_path: Path) -> None:
    from migration_guard.tasks.history.backend import open_store
    from migration_guard.tasks.history.model import Observation
    from migration_guard.tasks.history.store import database_key

    settings = load_settings(database_url=db_url, log_dir=tmp_path / "logs")
    key = database_key(db_url)
    rows = [(NOW - timedelta(hours=h), Observation(key, SEQUENCE_VALUE, 1000 + i * 10 + 50 * (168 - h), f"public.t{i}.id", INT4))
            for h in range(168, -1, -1) for i in range(300)]
    rows += [(NOW - timedelta(hours=h), Observation(key, SEQUENCE_VALUE, INT4 - 4e7 - 5e6 * h / 24, "public.hot.id", INT4))
             for h in range(168, -1, -1)]
    with open_store(settings) as store:
        store.add_timed_observations(rows)
    target = DatabaseTarget(name="app", dsn=db_url)
    conn = open_check_connection(target, settings)
    try:
        outcome = capacity_forecast.CHECK.run(CheckContext(target, conn, settings, HealthcheckConfig(), NOW))
    finally:
        conn.close()
    assert outcome.summary.startswith("`hot.id` sequence reaches 2^31 in ~8 days")
    assert outcome.problem.message.count("sequence reaches") == 1


def test_minutes_of_history_say_so_rather_than_nothing_growing() -> None:
    points = [Point(NOW - timedelta(minutes=m), 5.0, 97.0) for m in (20, 10, 0)]
    outcome = capacity_forecast.evaluate({CONNECTIONS_USED: {"": points}}, NOW, "app")
    assert outcome.summary == ("not enough history for a forecast yet (3 reading(s) over 20 min; 4 over at least 1 h "
                               "are needed)") and outcome.problem is None
    week = hourly(7, lambda h: 5.0, 97.0)
    assert capacity_forecast.evaluate({CONNECTIONS_USED: {"": week}}, NOW, "app").summary.startswith("nothing growing")
