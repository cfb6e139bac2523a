"""fire_alert / resolve_alerts: stored, deduplicated, notified over real HTTP, never leaking secrets."""

from __future__ import annotations

import json
from pathlib import Path

from migration_guard.tasks.settings import load_settings
from migration_guard.tasks.alerts.api import fire_alert, resolve_alerts
from migration_guard.tasks.alerts.store import AlertStore
from tests.recording_server import recording_server

PASSWORD = "Zebra-Secret-9137"


def _fire(settings, severity: str = "HIGH"):
    return fire_alert(
        settings, check="safe-migrate", database="db.example:5432/app", category="DATABASE_MIGRATION",
        severity=severity, title="Migration failed", message="20240101_init failed at statement 2",
        impact="Deploys are blocked", suggestions=["migration-guard recover"],
        original_error=f"connection to postgresql://app:{PASSWORD}@db.example/app failed: {PASSWORD}",
        component="safe-migrate", flow_run_url="http://prefect.local/runs/1",
    )


def test_fire_then_repeat_then_resolve(tmp_path: Path) -> None:
    with recording_server() as slack, recording_server() as hook:
        settings = load_settings(
            alerts_dir=tmp_path / "alerts", environment="production",
            database_url=f"postgresql://app:{PASSWORD}@db.example:5432/app",
            slack_webhook_url=slack.url + "/services/T/B/X", alert_webhook_url=hook.url + "/hook",
        )
        first = _fire(settings)
        again = _fire(settings)
        escalated_none = _fire(settings, "MEDIUM")
        resolved = resolve_alerts(settings, check="safe-migrate", database="db.example:5432/app")

    assert first.id == again.id == escalated_none.id
    assert again.occurrences == 2 and escalated_none.occurrences == 3
    assert [a.id for a in resolved] == [first.id]
    files = list((tmp_path / "alerts").glob("*.json"))
    assert len(files) == 1
    stored = json.loads(files[0].read_text())
    assert stored["status"] == "resolved" and stored["resolved_at"]
    assert set(stored) >= {"id", "timestamp", "category", "severity", "title", "message", "impact",
                           "suggestions", "technicalDetails", "fingerprint", "first_seen", "last_seen",
                           "occurrences", "resolved_at", "last_notified_at", "flow_run_url"}
    # new + resolved only: the repeats within the repeat interval stay quiet
    assert len(slack.requests) == 2 and len(hook.requests) == 2
    assert [r.json()["event_action"] for r in hook.requests] == ["trigger", "resolve"]
    everything = files[0].read_text() + "".join(r.body.decode() for r in slack.requests + hook.requests)
    assert PASSWORD not in everything
    assert "***" in stored["technicalDetails"]["originalError"]


def test_notification_failure_never_raises_and_is_retried(tmp_path: Path) -> None:
    with recording_server() as hook:
        hook.default = (500, {}, b"down")
        settings = load_settings(alerts_dir=tmp_path, alert_webhook_url=hook.url)
        alert = _fire(settings)
        assert alert.last_notified_at is None
        hook.default = (200, {}, b"ok")
        retried = _fire(settings)

    assert retried.last_notified_at is not None
    assert AlertStore(tmp_path).get(alert.id).last_notified_at is not None
