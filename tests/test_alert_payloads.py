"""Slack Block Kit and webhook payloads: snapshot-tested (tests/snapshots/*.json, regenerate with
UPDATE_SNAPSHOTS=1 and review the diff), and delivered over real HTTP to a local server, with
429 + Retry-After honoured and failures reported instead of raised."""

from __future__ import annotations

import json
import os
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from migration_guard.tasks.settings import load_settings
from migration_guard.tasks.alerts.lifecycle import Event, resolve
from migration_guard.tasks.alerts.model import new_alert
from migration_guard.tasks.alerts.notify import notify
from migration_guard.tasks.alerts.slack import SlackError, build_slack_message, send_via_webhook
from migration_guard.tasks.alerts.webhook import build_webhook_payload
from tests.recording_server import recording_server

SNAPSHOTS = Path(__file__).parent / "snapshots"
NOW = datetime(2024, 1, 1, 12, 0, tzinfo=UTC)


def _alert():
    return new_alert(
        check="migrations", database="app", category="DATABASE_MIGRATION", severity="HIGH",
        title="Migration 20240101000000_add_late_fees failed",
        message="Migrations of app (prisma, ledger public._prisma_migrations):\n- 20240101000000_add_late_fees: failed",
        impact="Deploys are blocked: the next `migrate deploy` refuses to run until this is resolved.",
        suggestions=["migration-guard recover", "migration-guard status   # full picture of every migration"],
        original_error="ERROR: column \"fee_cents\" contains null values (SQLSTATE 23502)",
        environment="production", component="healthcheck",
        flow_run_url="http://127.0.0.1:4200/runs/flow-run/00000000-0000-0000-0000-000000000001", now=NOW,
    )


def _matches_snapshot(name: str, data: dict) -> None:
    path = SNAPSHOTS / f"{name}.json"
    text = json.dumps(data, indent=2, sort_keys=True) + "\n"
    if os.environ.get("UPDATE_SNAPSHOTS") or not path.exists():
        path.write_text(text)
    assert json.loads(path.read_text()) == data, f"{path.name} changed; review and UPDATE_SNAPSHOTS=1"


def test_slack_new_alert_snapshot() -> None:
    message = build_slack_message(_alert(), Event.NEW)

    _matches_snapshot("slack_new", message)
    assert message["blocks"][0]["type"] == "header"
    assert message["blocks"][-1]["elements"][0]["url"].endswith("00000000-0000-0000-0000-000000000001")


def test_slack_resolved_snapshot() -> None:
    resolved = resolve(_alert(), datetime(2024, 1, 1, 13, 0, tzinfo=UTC)).alert

    _matches_snapshot("slack_resolved", build_slack_message(resolved, Event.RESOLVED))


def test_webhook_payload_snapshot() -> None:
    payload = build_webhook_payload(_alert(), Event.NEW)

    _matches_snapshot("webhook_new", payload)
    assert payload["dedup_key"] == _alert().fingerprint


def test_slack_webhook_retries_429_honouring_retry_after() -> None:
    with recording_server() as slack:
        slack.script = [(429, {"Retry-After": "1"}, b"rate_limited")]
        started = time.perf_counter()
        send_via_webhook(slack.url + "/services/T0/B0/XYZ", build_slack_message(_alert(), Event.NEW))
        elapsed = time.perf_counter() - started

    assert len(slack.requests) == 2
    assert elapsed >= 1.0
    assert slack.requests[1].json()["blocks"][0]["type"] == "header"


def test_slack_webhook_error_raises_without_url() -> None:
    with recording_server() as slack:
        slack.default = (404, {}, b"no_service")
        with pytest.raises(SlackError) as caught:
            send_via_webhook(slack.url + "/services/T0/B0/SECRETPATH", build_slack_message(_alert(), Event.NEW))

    assert "SECRETPATH" not in str(caught.value)


def test_bot_token_posts_chat_message(tmp_path: Path) -> None:
    with recording_server(default_body=b'{"ok": true}', content_type="application/json") as api:
        settings = load_settings(slack_bot_token="xoxb-test-token", slack_channel="#db-alerts",
                                 slack_api_url=api.url + "/api/", alerts_dir=tmp_path)
        outcome = notify(settings, _alert(), Event.NEW)

    assert outcome.sent == ["slack-bot"] and outcome.delivered
    request = api.requests[0]
    assert request.path == "/api/chat.postMessage"
    assert request.headers["Authorization"] == "Bearer xoxb-test-token"
    body = request.json()
    assert body["channel"] == "#db-alerts" and body["blocks"][0]["type"] == "header"


def test_bot_api_error_is_reported_not_raised(tmp_path: Path) -> None:
    with recording_server(default_body=b'{"ok": false, "error": "channel_not_found"}',
                          content_type="application/json") as api:
        settings = load_settings(slack_bot_token="xoxb-secret-token-1", slack_channel="#nope",
                                 slack_api_url=api.url + "/api/", alerts_dir=tmp_path)
        outcome = notify(settings, _alert(), Event.NEW)

    assert not outcome.delivered
    assert "channel_not_found" in outcome.failed["slack-bot"]
    assert "xoxb-secret-token-1" not in outcome.failed["slack-bot"]
