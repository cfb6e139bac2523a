"""Alert lifecycle across several real healthcheck runs: new → repeated (no duplicate
notification) → severity up → reminder after repeat_interval → resolved → cleaned up; and the
store: atomic files, corrupt files moved aside and reported."""

from __future__ import annotations

import json
import threading
from datetime import timedelta
from pathlib import Path

import psycopg

from migration_guard.tasks.settings import load_settings
from migration_guard.tasks.alerts.api import delete_expired_alerts, fire_alert, reconcile
from migration_guard.tasks.alerts.model import utcnow
from migration_guard.tasks.alerts.store import AlertStore
from migration_guard.tasks.healthcheck.config import load_config, resolve_targets
from migration_guard.tasks.healthcheck.alerts import record_alerts
from migration_guard.tasks.healthcheck.pipeline import run_checks
from tests.recording_server import recording_server

PASSWORD = "Lifecycle-Pw-4242"


def _config(tmp_path: Path) -> Path:
    path = tmp_path / "healthcheck.yaml"
    path.write_text(
        "databases:\n"
        "  - name: billing\n"
        "    url_env: MG_TEST_BILLING_URL\n"
        "freshness:\n"
        "  - name: late_fee_processing\n"
        "    query: SELECT max(processed_at) FROM late_fee_runs\n"
        "    period: 24h\n"
        "    grace: 1h\n"
    )
    return path


def _run(settings):
    config = load_config(settings.healthcheck_config)
    targets = resolve_targets(settings, config)
    report = run_checks(targets, settings, config)
    return report, record_alerts(report, settings, targets)


def _set_last_run(db: psycopg.Connection, hours_ago: float) -> None:
    db.execute("TRUNCATE late_fee_runs")
    db.execute("INSERT INTO late_fee_runs VALUES (now() - make_interval(secs => %s))", (hours_ago * 3600,))


def test_lifecycle_over_runs(tmp_path: Path, db_url: str, db: psycopg.Connection, monkeypatch) -> None:
    dsn = psycopg.conninfo.make_conninfo(db_url, password=PASSWORD)  # trust auth ignores it; we must hide it
    monkeypatch.setenv("MG_TEST_BILLING_URL", dsn)
    db.execute("CREATE TABLE late_fee_runs (processed_at timestamptz)")
    with recording_server() as hook:
        settings = load_settings(healthcheck_config=_config(tmp_path), alerts_dir=tmp_path / "alerts",
                                 alert_webhook_url=hook.url + "/events")
        _set_last_run(db, 26)
        _, first = _run(settings)                      # late: new MEDIUM alert, notified
        _, second = _run(settings)                     # still late: same alert, quiet
        _set_last_run(db, 60)
        _, third = _run(settings)                      # down: severity up, notified
        reminder = reconcile(settings, third.firing, [], now=utcnow() + timedelta(hours=5))  # repeat_interval passed
        _set_last_run(db, 1)
        _, fourth = _run(settings)                     # fresh again: resolved, notified
        _, fifth = _run(settings)                      # still fine: nothing

    events = [(r.json()["event"], r.json()["severity"]) for r in hook.requests]
    assert events == [("new", "MEDIUM"), ("escalated", "HIGH"), ("reminder", "HIGH"), ("resolved", "HIGH")]
    assert first.firing[0].id == second.firing[0].id == third.firing[0].id == fourth.resolved[0].id
    assert second.firing[0].occurrences == 2 and second.notified == []
    assert fifth.firing == [] and fifth.resolved == [] and fifth.notified == []
    assert reminder.notified == [(first.firing[0].id, "reminder")]
    files = list((tmp_path / "alerts").glob("*.json"))
    assert len(files) == 1
    stored = json.loads(files[0].read_text())
    assert stored["status"] == "resolved" and stored["check"] == "freshness:late_fee_processing"
    everything = files[0].read_text() + "".join(r.body.decode() for r in hook.requests)
    assert PASSWORD not in everything

    assert delete_expired_alerts(settings) == []                         # resolved < 24 h ago: kept
    assert delete_expired_alerts(settings, now=utcnow() + timedelta(hours=25)) == [stored["id"]]
    assert list((tmp_path / "alerts").glob("*.json")) == []


def test_unknown_check_neither_fires_nor_resolves(tmp_path: Path, db_url: str, monkeypatch) -> None:
    monkeypatch.setenv("MG_TEST_BILLING_URL", db_url)
    settings = load_settings(healthcheck_config=_config(tmp_path), alerts_dir=tmp_path / "alerts")
    fired = fire_alert(settings, check="freshness:late_fee_processing", database="billing", category="BUSINESS",
                       severity="MEDIUM", title="late", message="late", impact="x", suggestions=[],
                       component="healthcheck")

    report, result = _run(settings)  # the table does not exist: the freshness query fails → UNKNOWN

    statuses = {r.check: r.status.value for r in report.results}
    assert statuses["freshness:late_fee_processing"] == "UNKNOWN"
    assert result.resolved == []
    assert AlertStore(tmp_path / "alerts").get(fired.id).is_firing


def test_corrupt_file_is_moved_aside_and_reported(tmp_path: Path) -> None:
    settings = load_settings(alerts_dir=tmp_path)
    (tmp_path / "broken.json").write_text("{ not json")
    fire_alert(settings, check="x", database="d", category="UNKNOWN", severity="LOW", title="t", message="m",
               impact="i", suggestions=[], component="test")

    result = reconcile(settings, [], [("x", "d")])

    assert not (tmp_path / "broken.json").exists()
    assert (tmp_path / "broken.json.corrupt").exists()
    assert [a.check for a in result.resolved] == ["x"]
    assert [p.name for p in tmp_path.glob(".*.tmp")] == []


def test_concurrent_fires_keep_one_alert_and_count_every_occurrence(tmp_path: Path) -> None:
    settings = load_settings(alerts_dir=tmp_path)

    def fire() -> None:
        fire_alert(settings, check="c", database="d", category="TIMEOUT", severity="MEDIUM", title="t",
                   message="m", impact="i", suggestions=[], component="test")

    threads = [threading.Thread(target=fire) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    alerts = AlertStore(tmp_path).load().alerts
    assert len(alerts) == 1 and alerts[0].occurrences == 8
