"""The health history store: SQLite (default, LOG_DIR/state or STATE_DIR) and PostgreSQL
(STATE_DATABASE_URL) keep and prune the same rows; a run stores each database's readings and
never writes into the monitored database."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import psycopg
import pytest

from migration_guard.tasks.history.backend import HISTORY_FILE, open_store
from migration_guard.tasks.history.model import (
    BEFORE_MIGRATION, CONNECTIONS_USED, DEAD_TUPLE_RATIO, SEQUENCE_VALUE, XID_AGE, Observation, StatementCounter,
)
from migration_guard.tasks.history.postgres import PostgresStore
from migration_guard.tasks.history.prune import prune_history
from migration_guard.tasks.history.record import record_healthcheck
from migration_guard.tasks.history.sqlite import SqliteStore
from migration_guard.tasks.history.store import database_key
from migration_guard.tasks.settings import load_settings

T0 = datetime(2026, 11, 1, tzinfo=timezone.utc)


@pytest.fixture(params=["sqlite", "postgres"])
def store(request, tmp_path: Path, db_url: str):
    s = SqliteStore(tmp_path / HISTORY_FILE) if request.param == "sqlite" else PostgresStore(db_url)
    yield s
    s.close()


def test_observations_round_trip_by_subject(store) -> None:
    store.add_observations(T0, [Observation("db1", SEQUENCE_VALUE, 10, 'public."Order".id', 2**31 - 1),
                                Observation("db1", SEQUENCE_VALUE, 5, "public.user.id", 2**31 - 1),
                                Observation("db2", SEQUENCE_VALUE, 99, "public.user.id", 2**31 - 1)])
    store.add_observations(T0 + timedelta(hours=1), [Observation("db1", SEQUENCE_VALUE, 20, 'public."Order".id', 2**31 - 1)])
    series = store.series("db1", SEQUENCE_VALUE, T0)
    assert sorted(series) == ['public."Order".id', "public.user.id"]
    assert [(p.at, p.value, p.limit) for p in series['public."Order".id']] == [
        (T0, 10.0, 2**31 - 1), (T0 + timedelta(hours=1), 20.0, 2**31 - 1)]
    assert store.series("db1", SEQUENCE_VALUE, T0 + timedelta(minutes=30))['public."Order".id'][0].value == 20.0
    assert store.series("db1", XID_AGE, T0) == {}



def test_series_of_some_subjects_and_of_several_metrics_read_what_the_whole_series_holds(store, monkeypatch) -> None:
    from migration_guard.tasks.history import store as store_module

    store.add_timed_observations([(T0 + timedelta(hours=h), Observation("db1", SEQUENCE_VALUE, h * 10 + i, f"public.t{i}.id", 99e9))
                                  for h in range(3) for i in range(5)]
                                 + [(T0 + timedelta(hours=h), Observation("db1", XID_AGE, h)) for h in range(3)])
    whole = store.series("db1", SEQUENCE_VALUE, T0)
    monkeypatch.setattr(store_module, "SUBJECTS_PER_QUERY", 2)  # three queries for five subjects
    some = store.series("db1", SEQUENCE_VALUE, T0, ["public.t4.id", "public.t0.id", "public.t2.id", "public.t3.id"])
    assert some == {s: whole[s] for s in ("public.t0.id", "public.t2.id", "public.t3.id", "public.t4.id")}
    assert len(some["public.t4.id"]) == 3 and store.series("db1", SEQUENCE_VALUE, T0, []) == {}
    both = store.metrics_series("db1", [SEQUENCE_VALUE, XID_AGE, CONNECTIONS_USED], T0 + timedelta(minutes=30))
    assert both == {SEQUENCE_VALUE: store.series("db1", SEQUENCE_VALUE, T0 + timedelta(minutes=30)),
                    XID_AGE: store.series("db1", XID_AGE, T0 + timedelta(minutes=30))}
    assert [p.value for p in both[XID_AGE][""]] == [1.0, 2.0]


def test_series_ends_are_each_subjects_readings_at_the_first_and_last_time_recorded(store) -> None:
    limit = 2**31 - 1
    store.add_observations(T0 - timedelta(hours=5), [Observation("db1", SEQUENCE_VALUE, 1, "public.old.id", limit)])
    store.add_observations(T0, [Observation("db1", SEQUENCE_VALUE, 10, "public.a.id", limit),
                                Observation("db1", SEQUENCE_VALUE, 7, "public.gone.id", limit),
                                Observation("db2", SEQUENCE_VALUE, 99, "public.a.id", limit)])
    store.add_observations(T0 + timedelta(hours=1), [Observation("db1", SEQUENCE_VALUE, 15, "public.a.id", limit)])
    store.add_observations(T0 + timedelta(hours=2), [Observation("db1", SEQUENCE_VALUE, 20, "public.a.id", limit),
                                                     Observation("db1", SEQUENCE_VALUE, 3, "public.new.id", limit)])
    ends = store.series_ends("db1", SEQUENCE_VALUE, T0 - timedelta(minutes=1))
    assert sorted(ends) == ["public.a.id", "public.new.id"]  # gone: not read at the last time
    first, last = ends["public.a.id"]
    assert (first.at, first.value, last.at, last.value, last.limit) == (T0, 10.0, T0 + timedelta(hours=2), 20.0, limit)
    assert ends["public.new.id"][0] is None and ends["public.new.id"][1].value == 3.0
    only = store.series_ends("db1", SEQUENCE_VALUE, T0 + timedelta(minutes=90))  # one time: first is last
    assert {s: (f.value, e.value) for s, (f, e) in only.items()} == {"public.a.id": (20.0, 20.0),
                                                                     "public.new.id": (3.0, 3.0)}
    assert store.series_ends("db1", SEQUENCE_VALUE, T0 + timedelta(hours=3)) == {}
    assert store.series_ends("db1", XID_AGE, T0 - timedelta(hours=9)) == {}


def test_points_in_windows_are_read_once_even_where_windows_overlap_or_come_unordered(store) -> None:
    store.add_timed_observations([(T0 + timedelta(hours=h), Observation("db1", CONNECTIONS_USED, h)) for h in range(48)]
                                 + [(T0 + timedelta(hours=h), Observation("db2", CONNECTIONS_USED, 99)) for h in range(48)])
    windows = [(T0 + timedelta(hours=30), T0 + timedelta(hours=32)), (T0 + timedelta(hours=1), T0 + timedelta(hours=3)),
               (T0 + timedelta(hours=2), T0 + timedelta(hours=4)), (T0 + timedelta(hours=31), T0 + timedelta(hours=31))]
    found = store.metrics_in_windows("db1", [CONNECTIONS_USED, XID_AGE], windows)
    assert [p.value for p in found[CONNECTIONS_USED][""]] == [1, 2, 3, 4, 30, 31, 32] and XID_AGE not in found
    assert store.metrics_in_windows("db1", [CONNECTIONS_USED], []) == {}


def test_statement_snapshots_and_prune(store) -> None:
    old = store.add_statement_snapshot(T0, "db1", "healthcheck", [StatementCounter("1", "SELECT 1", 10, 5.0)])
    new = store.add_statement_snapshot(T0 + timedelta(days=40), "db1", BEFORE_MIGRATION,
                                       [StatementCounter("1", "SELECT 1", 30, 9.0),
                                        StatementCounter("2", "SELECT $1", 7, 1.5)], label="20261101_x")
    assert [s.id for s in store.statement_snapshots("db1", T0)] == [old, new]
    assert store.latest_statement_snapshot("db1").id == new
    assert store.latest_statement_snapshot("db1", "healthcheck").id == old
    assert store.statement_counters("db1", new)["2"] == StatementCounter("2", "SELECT $1", 7, 1.5)
    store.add_observations(T0, [Observation("db1", CONNECTIONS_USED, 3, limit=97)])
    store.add_observations(T0 + timedelta(days=40), [Observation("db1", CONNECTIONS_USED, 4, limit=97)])

    counts = store.prune(T0 + timedelta(days=5))

    assert counts == {"observations": 1, "statement_snapshots": 1}
    assert [s.id for s in store.statement_snapshots("db1", T0)] == [new]
    assert store.statement_counters("db1", old) == {}
    assert [p.value for p in store.series("db1", CONNECTIONS_USED, T0)[""]] == [4.0]


def test_default_store_is_sqlite_under_log_dir_and_state_dir_moves_it(tmp_path: Path) -> None:
    with open_store(load_settings(log_dir=tmp_path / "logs")) as s:
        assert isinstance(s, SqliteStore) and s.location == str(tmp_path / "logs" / "state" / HISTORY_FILE)
    with open_store(load_settings(log_dir=tmp_path / "logs", state_dir=tmp_path / "st")) as s:
        assert s.location == str(tmp_path / "st" / HISTORY_FILE)
    assert oct((tmp_path / "st" / HISTORY_FILE).stat().st_mode & 0o777) == "0o600"


def test_state_database_url_selects_postgres_and_bad_urls_are_one_line_errors(db_url: str, tmp_path: Path) -> None:
    with open_store(load_settings(state_database_url=db_url, log_dir=tmp_path)) as s:
        assert isinstance(s, PostgresStore)
    from migration_guard.tasks.errors import ConfigError

    with pytest.raises(ConfigError, match="^STATE_DATABASE_URL: expected a PostgreSQL URL"):
        load_settings(state_database_url="mysql://x@y/z")
    from migration_guard.tasks.errors import DatabaseError
    from migration_guard.tasks.history.backend import open_existing_store

    parts = psycopg.conninfo.conninfo_to_dict(db_url)
    host = parts.get("host") if not str(parts.get("host", "/")).startswith("/") else "127.0.0.1"
    missing = f"postgresql://{parts.get('user', 'postgres')}:Hunter2pw@{host}:{parts.get('port', 5432)}/mg_no_such_state"
    for opener in (open_store, open_existing_store):  # the error says whose URL it is, and never its password
        with pytest.raises(DatabaseError) as raised:
            opener(load_settings(state_database_url=missing, log_dir=tmp_path))
        assert str(raised.value).startswith("the health history's STATE_DATABASE_URL: ")
        assert "STATE_DATABASE_URL" in raised.value.suggestion and "Hunter2pw" not in str(raised.value) + raised.value.suggestion


def _fixture_schema(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute('CREATE TABLE "Order" (id serial PRIMARY KEY, note text)')
        conn.execute('INSERT INTO "Order" (note) SELECT g::text FROM generate_series(1, 300) g')
        conn.execute('DELETE FROM "Order" WHERE id <= 100')
        conn.execute('CREATE TABLE big (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY)')
        conn.execute("SELECT setval(pg_get_serial_sequence('big', 'id'), 42)")
        conn.execute('CREATE SEQUENCE loose AS smallint')
        conn.execute("SELECT nextval('loose')")
        conn.execute('ANALYZE')


def test_a_run_stores_each_reading_of_a_real_database_and_nothing_in_it(db_url: str, tmp_path: Path) -> None:
    _fixture_schema(db_url)
    settings = load_settings(database_url=db_url, log_dir=tmp_path / "logs")
    result = record_healthcheck(settings, T0, [db_url], [Observation(database_key(db_url), "check.connections", 4.1)])
    assert result.errors == [] and result.observations >= 8
    key = database_key(db_url)
    with open_store(settings) as s:
        sequences = {subject: points[-1] for subject, points in s.series(key, SEQUENCE_VALUE, T0).items()}
        assert sequences['public."Order".id'].value == 300 and sequences['public."Order".id'].limit == 2**31 - 1
        assert sequences["public.big.id"].value == 42 and sequences["public.big.id"].limit == float(2**63 - 1)  # kept as a double: ample for a trend
        assert sequences["public.loose"].limit == 2**15 - 1
        assert s.series(key, CONNECTIONS_USED, T0)[""][0].limit > 1
        assert 0 < s.series(key, XID_AGE, T0)[""][0].value < 2**31
        dead = s.series(key, DEAD_TUPLE_RATIO, T0)
        assert dead and all(0 <= p[0].value <= 1 for p in dead.values())
        assert s.series(key, "check.connections", T0)[""][0].value == 4.1
    with psycopg.connect(db_url) as conn:
        assert conn.execute("SELECT count(*) FROM pg_class WHERE relname LIKE 'mg\\_%'").fetchone()[0] == 0


def test_an_unwritable_store_or_a_down_database_never_fails_the_run(db_url: str, tmp_path: Path) -> None:
    (tmp_path / "state").write_text("a file where the folder should be")
    settings = load_settings(database_url=db_url, state_dir=tmp_path / "state")
    result = record_healthcheck(settings, T0, [db_url])
    assert result.observations == 0 and result.errors and "history store" in result.errors[0]

    settings = load_settings(database_url=db_url, log_dir=tmp_path / "logs", connect_timeout=1)
    down = "postgresql://postgres@127.0.0.1:1/nothing"
    result = record_healthcheck(settings, T0, [down, db_url])
    assert result.observations > 0 and len(result.errors) == 1 and result.errors[0].startswith("127.0.0.1:1/nothing")


def test_maintenance_prunes_history_past_retention(db_url: str, tmp_path: Path) -> None:
    from migration_guard.tasks.maintenance.pipeline import MaintenanceOptions, run_maintenance

    settings = load_settings(alerts_dir=tmp_path / "alerts", log_dir=tmp_path / "logs", backup_dir=tmp_path / "b",
                             history_retention_days=30)
    now = datetime.now(timezone.utc)
    with open_store(settings) as s:
        s.add_observations(now - timedelta(days=31), [Observation("db", XID_AGE, 1, limit=2**31)])
        s.add_observations(now - timedelta(days=29), [Observation("db", XID_AGE, 2, limit=2**31)])
    result = run_maintenance(settings, MaintenanceOptions(prune_backups=False))
    assert result["history_pruned"] and result["history_pruned"][0].startswith("1 observations recorded before")
    with open_store(settings) as s:
        assert [p.value for p in s.series("db", XID_AGE, now - timedelta(days=60))[""]] == [2.0]
    assert prune_history(settings) == []


def test_readers_never_create_a_store(db_url: str, tmp_path: Path) -> None:
    from migration_guard.tasks.history.backend import open_existing_store

    assert open_existing_store(load_settings(log_dir=tmp_path / "logs")) is None
    assert not (tmp_path / "logs").exists()
    assert open_existing_store(load_settings(state_database_url=db_url)) is None
    with psycopg.connect(db_url) as conn:
        assert conn.execute("SELECT to_regclass('mg_observations')").fetchone()[0] is None
    open_store(load_settings(state_database_url=db_url)).close()
    store = open_existing_store(load_settings(state_database_url=db_url))
    assert isinstance(store, PostgresStore)
    store.close()


def test_only_the_most_used_sequences_are_kept_measured_against_their_columns(db_url: str, tmp_path: Path,
                                                                              monkeypatch) -> None:
    from migration_guard.tasks.history import collect

    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE narrow (id int PRIMARY KEY)")
        conn.execute("CREATE SEQUENCE narrow_id_seq AS bigint OWNED BY narrow.id")  # bigint sequence, int4 column
        conn.execute("SELECT setval('narrow_id_seq', 1000000)")
        for name in ("a", "b", "c"):
            conn.execute(f"CREATE TABLE {name} (id bigserial PRIMARY KEY)")
            conn.execute(f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), 10000000)")
    monkeypatch.setattr(collect, "SEQUENCES_KEPT", 1)
    with psycopg.connect(db_url, autocommit=True) as conn:
        kept = [o for o in collect.read_observations(conn, "k") if o.metric == SEQUENCE_VALUE]
    assert [(o.subject, o.limit) for o in kept] == [("public.narrow.id", 2**31 - 1)]


def test_a_sequence_is_named_by_the_column_it_feeds_quoted_as_postgresql_would(db_url: str) -> None:
    from migration_guard.tasks.history import collect

    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute('CREATE SCHEMA "Sales Data"')
        conn.execute('CREATE TABLE "Sales Data"."Line""Item" ("Line Id" smallserial, n int)')
        conn.execute('INSERT INTO "Sales Data"."Line""Item" (n) VALUES (1), (2)')
        conn.execute('CREATE SEQUENCE "Sales Data".free AS integer')
        conn.execute("""SELECT nextval('"Sales Data".free')""")
        kept = {o.subject: o for o in collect.read_observations(conn, "k") if o.metric == SEQUENCE_VALUE}
    assert sorted(kept) == ['"Sales Data"."Line""Item"."Line Id"', '"Sales Data".free']
    assert (kept['"Sales Data"."Line""Item"."Line Id"'].value, kept['"Sales Data"."Line""Item"."Line Id"'].limit) == (
        2, 2**15 - 1)
    assert (kept['"Sales Data".free'].value, kept['"Sales Data".free'].limit) == (1, 2**31 - 1)


def test_readings_of_many_times_and_mixed_limits_are_stored_at_once(store) -> None:
    stored = store.add_timed_observations([
        (T0, Observation("db1", CONNECTIONS_USED, 3, limit=97)),            # an int limit
        (T0, Observation("db1", XID_AGE, 10.5, limit=float(2**31))),         # a float one
        (T0 + timedelta(hours=1), Observation("db1", CONNECTIONS_USED, 4)),  # none
    ])
    assert stored == 3
    assert [(p.value, p.limit) for p in store.series("db1", CONNECTIONS_USED, T0)[""]] == [(3.0, 97.0), (4.0, None)]
    assert store.series("db1", XID_AGE, T0)[""][0].limit == 2**31
