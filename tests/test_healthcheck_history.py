"""The healthcheck sequence records the run in the health history (the record-health-history step),
only when it records at all, and the flow's steps run it as its own Prefect task."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

from migration_guard.tasks.healthcheck.pipeline import run_healthcheck
from migration_guard.tasks.history.backend import open_store
from migration_guard.tasks.history.model import CONNECTIONS_USED, XID_AGE
from migration_guard.tasks.history.store import database_key
from migration_guard.tasks.settings import load_settings


def test_a_recorded_run_adds_its_readings_and_a_look_only_run_adds_none(db_url: str, tmp_path: Path) -> None:
    settings = load_settings(database_url=db_url, log_dir=tmp_path / "logs", alerts_dir=tmp_path / "alerts")
    run_healthcheck(settings, record=False)
    assert not (tmp_path / "logs" / "state").exists()

    report = run_healthcheck(settings)
    run_healthcheck(settings)

    key = database_key(db_url)
    with open_store(settings) as store:
        since = report.started_at - timedelta(minutes=1)
        assert len(store.series(key, CONNECTIONS_USED, since)[""]) == 2
        assert len(store.series(key, XID_AGE, since)[""]) == 2
        assert [p.value for p in store.series(key, "check.xid_wraparound", since)[""]][0] > 0
    forecast = next(r for r in report.results if r.check == "capacity_forecast")
    assert forecast.status.value == "OK" and forecast.summary.startswith("no health history yet")


def test_the_flow_runs_the_step_as_its_own_task() -> None:
    from migration_guard.tasks.healthcheck.tasks import PREFECT_STEPS

    assert PREFECT_STEPS.record_history.name == "record-health-history"


def test_a_forecast_fires_through_the_alert_lifecycle_and_resolves(db_url: str, tmp_path: Path) -> None:
    from migration_guard.tasks.history.model import SEQUENCE_VALUE, Observation

    settings = load_settings(database_url=db_url, log_dir=tmp_path / "logs", alerts_dir=tmp_path / "alerts")
    key, limit, now = database_key(db_url), 2**31 - 1, datetime.now(timezone.utc)
    with open_store(settings) as store:  # the last 3 days: +10M ids a day, 5 days left
        for hours in range(72, 0, -6):
            store.add_observations(now - timedelta(hours=hours), [Observation(
                key, SEQUENCE_VALUE, limit - 5e7 - 1e7 * hours / 24, 'public."Order".id', limit)])

    fired = run_healthcheck(settings)

    alert = next(a for a in fired.alerts.firing if a.check == "capacity_forecast")
    assert alert.severity == "HIGH" and "`Order.id` sequence reaches 2^31 in ~5 days" in alert.message
    with open_store(settings) as store:
        store.prune(now + timedelta(seconds=1))  # the history is gone: nothing to forecast
    resolved = run_healthcheck(settings)
    assert alert.id in [a.id for a in resolved.alerts.resolved]


def test_the_history_checks_of_a_database_share_one_store_connection(db_url: str, tmp_path: Path,
                                                                      monkeypatch) -> None:
    import psycopg

    from migration_guard.tasks.healthcheck.config import HealthcheckConfig
    from migration_guard.tasks.healthcheck.runner import check_database
    from migration_guard.tasks.healthcheck.target import DatabaseTarget
    from migration_guard.tasks.history import backend

    settings = load_settings(database_url=db_url, log_dir=tmp_path / "logs", state_database_url=db_url)
    run_healthcheck(settings)  # creates the store's tables
    opened = []
    real_open = backend.open_existing_store

    def counting_open(s):
        store = real_open(s)
        opened.append(store)
        return store

    monkeypatch.setattr(backend, "open_existing_store", counting_open)
    results = check_database(DatabaseTarget(name="app", dsn=db_url), settings, HealthcheckConfig())

    history_checks = {r.check: r for r in results if r.check in ("capacity_forecast", "anomalies")}
    assert set(history_checks) == {"capacity_forecast", "anomalies"}
    assert all(r.status.value != "UNKNOWN" for r in history_checks.values())
    assert len(opened) == 1 and opened[0]._conn.closed  # one store for every check, closed at the end
    with psycopg.connect(db_url) as conn:
        assert conn.execute("SELECT count(*) FROM pg_stat_activity WHERE application_name = "
                            "'migration-guard-history' AND datname = current_database()").fetchone()[0] == 0


def test_a_shared_store_a_check_failed_on_is_replaced_for_the_next_check(tmp_path: Path) -> None:
    from migration_guard.tasks.history.backend import open_store, reading_store, shared_history_reads

    settings = load_settings(log_dir=tmp_path / "logs")
    open_store(settings).close()  # an existing (empty) SQLite history
    with shared_history_reads(settings):
        with reading_store(settings) as first, reading_store(settings) as again:
            assert first is again is not None
        try:
            with reading_store(settings) as failing:
                raise RuntimeError("a reader failed mid-query")
        except RuntimeError:
            pass
        with reading_store(settings) as fresh:
            assert fresh is not failing and fresh.series("db", XID_AGE, datetime(2026, 1, 1, tzinfo=timezone.utc)) == {}
    with reading_store(settings) as own:  # outside: opened and closed here
        assert own is not fresh


def test_a_run_reads_and_records_on_one_state_database_connection(db_url: str, tmp_path: Path, monkeypatch) -> None:
    from migration_guard.tasks.history import backend

    settings = load_settings(database_url=db_url, log_dir=tmp_path / "logs", alerts_dir=tmp_path / "alerts",
                             state_database_url=db_url)
    run_healthcheck(settings)  # creates the store's tables
    opened = []

    class CountingStore(backend.PostgresStore):
        def __init__(self, *args, **kwargs) -> None:
            super().__init__(*args, **kwargs)
            opened.append(self)

    monkeypatch.setattr(backend, "PostgresStore", CountingStore)
    report = run_healthcheck(settings)

    assert len(opened) == 1 and opened[0]._conn.closed
    with open_store(settings) as store:
        assert [p.at for p in store.series(database_key(db_url), CONNECTIONS_USED, report.started_at)[""]] == [
            report.started_at]
