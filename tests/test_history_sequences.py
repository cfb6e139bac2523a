"""Which sequences a healthcheck run reads (``tasks/history/sequences.py``): every one each
``SCAN_INTERVAL``, and in between only those that could reach their limit — on a real database
whose sequences are advanced with setval at simulated times, names that need quoting included."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import psycopg

from migration_guard.tasks.history.backend import open_store
from migration_guard.tasks.history.model import SEQUENCE_VALUE, SEQUENCES_SCANNED, Point
from migration_guard.tasks.history.record import record_healthcheck
from migration_guard.tasks.history.sequences import SCAN_INTERVAL, scope_of, watched_subjects
from migration_guard.tasks.history.store import database_key
from migration_guard.tasks.settings import load_settings

START = datetime(2026, 11, 20, 0, tzinfo=timezone.utc)
INT4 = 2**31 - 1
HOT = 'public."Order".id'
AUDIT = 'public."audit seq"'
CALM = "public.calm.id"


def subjects_read_at(settings, key: str, at: datetime) -> set[str]:
    with open_store(settings) as store:
        series = store.series(key, SEQUENCE_VALUE, at)
    return {subject for subject, points in series.items() if any(p.at == at for p in points)}


def test_far_sequences_are_read_only_by_the_periodic_scan_and_the_near_ones_every_run(
        db_url: str, tmp_path: Path) -> None:
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute('CREATE TABLE "Order" (id serial PRIMARY KEY)')
        conn.execute("CREATE TABLE calm (id bigserial PRIMARY KEY)")
        conn.execute('CREATE SEQUENCE "audit seq" AS integer')
        conn.execute("SELECT setval('calm_id_seq', 5), nextval('\"audit seq\"')")
    settings = load_settings(database_url=db_url, log_dir=tmp_path / "logs")
    key = database_key(db_url)

    def run(hours: float, hot: float, audit: int, table: str = '"Order"') -> set[str]:
        at = START + timedelta(hours=hours)
        with psycopg.connect(db_url, autocommit=True) as conn:
            conn.execute("SELECT setval(pg_get_serial_sequence(%s, 'id'), %s), setval('\"audit seq\"', %s)",
                         (table, int(hot), audit))
        assert record_healthcheck(settings, at, [db_url]).errors == []
        return subjects_read_at(settings, key, at)

    everything = {HOT, AUDIT, CALM}
    assert run(0, INT4 - 9e8, 1000) == everything          # no scan yet: a scan
    assert run(1, INT4 - 8e8, 2000) == everything          # one reading each: no rate yet, all watched (no scan)
    assert run(2, INT4 - 7e8, 3000) == {HOT}               # calm is flat, audit's +1,000/h is years away
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute('ALTER TABLE "Order" RENAME TO "Order_old"')  # a watched table renamed: not found, no error
    assert run(3, INT4 - 6e8, 4000, '"Order_old"') == set()
    assert run(6, INT4 - 5e8, 5000, '"Order_old"') == {'public."Order_old".id', AUDIT, CALM}  # SCAN_INTERVAL after the first
    with open_store(settings) as store:
        scans = store.series(key, SEQUENCES_SCANNED, START - timedelta(hours=1))[""]
    assert [p.at - START for p in scans] == [timedelta(0), SCAN_INTERVAL]
    assert [p.value for p in scans] == [3, 3]


def test_the_watched_sequences_are_those_that_could_reach_their_limit_or_cannot_be_ruled_out() -> None:
    def at(hours: float) -> datetime:
        return START + timedelta(hours=hours)

    ends = {
        "public.near.id": (Point(at(0), INT4 - 1e9, INT4), Point(at(24), INT4 - 9.9e8, INT4)),   # ~100 days away
        "public.far.id": (Point(at(0), 1e3, INT4), Point(at(24), 2e3, INT4)),                   # millennia away
        "public.flat.id": (Point(at(0), 5, INT4), Point(at(24), 5, INT4)),
        "public.new.id": (None, Point(at(24), 10, INT4)),
        "public.reset.id": (Point(at(0), 500, INT4), Point(at(24), 3, INT4)),
        "public.once.id": (Point(at(24), 7, INT4), Point(at(24), 7, INT4)),
        "public.unlimited": (Point(at(0), 1, None), Point(at(24), 1e9, None)),
    }
    assert sorted(watched_subjects(ends)) == ["public.near.id", "public.new.id", "public.once.id", "public.reset.id"]
    scope = scope_of(['public."Order".id', 'app."my seq"', "public.t.id"])
    assert not scope.every and scope.owners == (("public", "Order", "id"), ("public", "t", "id"))
    assert scope.sequences == (("app", "my seq"),)


def test_a_week_that_begins_between_two_scans_still_knows_every_sequences_rate(tmp_path: Path) -> None:
    from migration_guard.tasks.history.model import Observation
    from migration_guard.tasks.history.sequences import sequence_scope

    settings = load_settings(log_dir=tmp_path / "logs")
    hot, far = "public.hot.id", [f"public.far{i}.id" for i in range(3)]
    with open_store(settings) as store:
        for hours in range(0, 188):  # hourly runs for ~8 days: a scan every 6 h (the last at 186), else only the hot one
            at = START + timedelta(hours=hours)
            scan = hours % 6 == 0
            rows = [Observation("db", SEQUENCE_VALUE, INT4 - 1e9 + 5e6 * hours, hot, INT4)]
            if scan or hours == 187:  # the last run read them too (as a run after a scan does: no rate yet)
                rows += [Observation("db", SEQUENCE_VALUE, 1000 + hours, s, INT4) for s in far]
                rows.append(Observation("db", SEQUENCES_SCANNED, 4))
            store.add_observations(at, rows)
        # two hours after the last scan the week read begins at hour 19: a run that read only `hot`
        at = START + timedelta(hours=188)
        scope = sequence_scope(store, "db", at)
    assert not scope.every and scope.owners == (("public", "hot", "id"),)  # the far ones still have a rate


def test_a_flat_sequence_nearly_at_its_limit_is_an_alert_from_the_second_run(db_url: str, tmp_path: Path) -> None:
    from migration_guard.tasks.healthcheck.pipeline import run_healthcheck

    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute('CREATE TABLE "Order" (id serial PRIMARY KEY)')
        conn.execute("CREATE TABLE half (id serial PRIMARY KEY)")
        conn.execute("CREATE TABLE calm (id serial PRIMARY KEY)")
        conn.execute("SELECT setval(pg_get_serial_sequence('\"Order\"', 'id'), 2147000000), "
                     "setval('half_id_seq', 1850000000), setval('calm_id_seq', 10)")
    settings = load_settings(database_url=db_url, log_dir=tmp_path / "logs", alerts_dir=tmp_path / "alerts")
    run_healthcheck(settings)  # the first reading
    report = run_healthcheck(settings)

    row = next(r for r in report.results if r.check == "capacity_forecast")
    assert row.status.value == "CRITICAL" and row.problem is not None and row.problem.severity == "HIGH"
    assert row.summary == "`Order.id` sequence is at 99.98% of 2^31 (2,147,000,000; 483,647 left)"
    assert "`half.id` sequence is at 86.15% of 2^31" in row.problem.message and "calm" not in row.problem.message
    assert row.problem.suggestions[0].startswith('ALTER TABLE public."Order" ALTER COLUMN id TYPE bigint;')
    assert any("as a migration" in s for s in row.problem.suggestions)
    with psycopg.connect(db_url, autocommit=True) as conn:  # widened: the limit is bigint's, the alert resolves
        conn.execute('ALTER TABLE "Order" ALTER COLUMN id TYPE bigint')
        conn.execute("ALTER SEQUENCE \"Order_id_seq\" AS bigint")
        conn.execute("SELECT setval('half_id_seq', 1), setval('\"Order_id_seq\"', 2147000000)")
    run_healthcheck(settings)
    resolved = run_healthcheck(settings)
    assert next(r for r in resolved.results if r.check == "capacity_forecast").problem is None
