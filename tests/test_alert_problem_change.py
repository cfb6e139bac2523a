"""A change of problem under one fingerprint (a failed migration resolved, another one now pending)
resolves the old alert and fires a new one: the record that a migration failed is never rewritten.
And the failed migration's alert carries the database error in ``technicalDetails.originalError``."""

from __future__ import annotations

import os
import time
from datetime import timedelta
from pathlib import Path

import psycopg

from migration_guard.tasks.alerts.api import list_alerts, reconcile
from migration_guard.tasks.alerts.model import new_alert, utcnow
from migration_guard.tasks.healthcheck.alerts import record_alerts
from migration_guard.tasks.healthcheck.config import load_config, resolve_targets
from migration_guard.tasks.healthcheck.pipeline import run_checks
from migration_guard.tasks.ledgers.prisma import PrismaLedger
from migration_guard.tasks.settings import load_settings
from tests.helpers import make_prisma_project
from tests.recording_server import recording_server

INIT, BAD, NEXT = "20240101000000_init", "20240102000000_bad", "20240103000000_next"


def _alert(severity: str, title: str, problem: str, now):
    return new_alert(check="migrations", database="db", category="DATABASE_MIGRATION", severity=severity,
                     title=title, message=title, impact="x", suggestions=[], environment="test",
                     component="healthcheck", now=now, problem=problem)


def test_a_different_problem_resolves_the_old_alert_and_fires_a_new_one(tmp_path: Path) -> None:
    settings = load_settings(alerts_dir=tmp_path / "alerts")
    now = utcnow()
    reconcile(settings, [_alert("HIGH", f"Migration {BAD} failed", f"failed:{BAD}", now)], [], now=now)
    later = now + timedelta(minutes=60)
    result = reconcile(settings, [_alert("MEDIUM", f"Migration {NEXT} pending", "pending", later)], [], now=later)

    alerts, _ = list_alerts(settings, include_resolved=True)
    by_title = {a.title: a for a in alerts}
    failed, pending = by_title[f"Migration {BAD} failed"], by_title[f"Migration {NEXT} pending"]
    assert failed.status.value == "resolved" and failed.severity.value == "HIGH" and abs(failed.resolved_at - later) < timedelta(seconds=1)
    assert pending.status.value == "firing" and pending.severity.value == "MEDIUM" and pending.id != failed.id
    assert [a.id for a in result.resolved] == [failed.id]
    assert failed.fingerprint == pending.fingerprint  # same identity labels; the history is two records


def test_the_same_problem_seen_again_updates_the_firing_alert(tmp_path: Path) -> None:
    settings = load_settings(alerts_dir=tmp_path / "alerts")
    now = utcnow()
    reconcile(settings, [_alert("HIGH", f"Migration {BAD} failed", f"failed:{BAD}", now)], [], now=now)
    reconcile(settings, [_alert("HIGH", f"Migration {BAD} failed", f"failed:{BAD}", now + timedelta(hours=1))], [],
              now=now + timedelta(hours=1))
    alerts, _ = list_alerts(settings, include_resolved=True)
    assert len(alerts) == 1 and alerts[0].occurrences == 2 and alerts[0].status.value == "firing"


def test_failed_then_pending_over_real_healthcheck_runs(tmp_path: Path, db_url: str, db: psycopg.Connection) -> None:
    directory = make_prisma_project(tmp_path, {INIT: "CREATE TABLE a (id int);", BAD: "SELECT 1/0;"})
    ledger = PrismaLedger(directory)
    ledger.ensure_table(db)
    init, bad = ledger.read_migrations()
    db.execute(init.sql)
    ledger.mark_applied(db, init)
    entry = ledger.record_started(db, bad)
    ledger.record_failed(db, entry, "Error querying the database: ERROR: division by zero\n   0: sql_schema_connector::apply\n")

    with recording_server() as hook:
        settings = load_settings(database_url=db_url, migrations_dir=directory, alerts_dir=tmp_path / "alerts",
                                 alert_webhook_url=hook.url + "/events")

        def run():
            config = load_config(settings.healthcheck_config)
            targets = resolve_targets(settings, config)
            return record_alerts(run_checks(targets, settings, config), settings, targets)

        first = run()
        failed = next(a for a in first.firing if a.check == "migrations")
        assert failed.severity.value == "HIGH"
        assert "division by zero" in failed.original_error and "sql_schema_connector" not in failed.original_error

        # the operator resolves the failed migration by hand (as `prisma migrate resolve --rolled-back`)
        db.execute("UPDATE _prisma_migrations SET rolled_back_at = now() WHERE migration_name = %s", (BAD,))
        (directory / BAD / "migration.sql").unlink()
        (directory / BAD).rmdir()
        (directory / NEXT).mkdir()
        (directory / NEXT / "migration.sql").write_text("SELECT 1;")
        on_disk_since = time.time() - 7 * 86400  # deployed a week ago, still not applied: past the grace
        os.utime(directory / NEXT / "migration.sql", (on_disk_since, on_disk_since))
        second = run()

    alerts, _ = list_alerts(settings, include_resolved=True)
    migration_alerts = sorted((a for a in alerts if a.check == "migrations"), key=lambda a: a.first_seen)
    assert [(a.severity.value, a.status.value) for a in migration_alerts] == [("HIGH", "resolved"), ("MEDIUM", "firing")]
    assert BAD in migration_alerts[0].title and "failed" in migration_alerts[0].title
    assert any(a.id == failed.id for a in second.resolved)
    events = [(r.json()["event"], r.json()["severity"]) for r in hook.requests]
    assert events == [("new", "HIGH"), ("resolved", "HIGH"), ("new", "MEDIUM")]
