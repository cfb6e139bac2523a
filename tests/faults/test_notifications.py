"""Slack and the alert webhook answering 500, 429 with Retry-After, or never answering (timeout),
over real HTTP. The healthcheck still completes with its exit code, no alert is lost (a
notification that did not go out is retried by the next run) and the alert files stay valid JSON."""

from __future__ import annotations

import json
import time
from pathlib import Path

import psycopg
import pytest

from tests.faults.support import alert_files, silent_server
from tests.helpers import run_cli_process
from tests.recording_server import recording_server

pytestmark = pytest.mark.faults

CONFIG = ("databases:\n  - name: app\n    url_env: DATABASE_URL\n"
          "assertions:\n  - name: orphans\n    database: app\n    query: SELECT count(*) FROM orphans\n"
          "    comparison: \"==\"\n    threshold: 0\n    severity: HIGH\n    message: orphan rows\n")


@pytest.fixture
def env(tmp_path: Path, db_url: str, db: psycopg.Connection) -> dict[str, str]:
    db.execute("CREATE TABLE orphans (id int)")
    db.execute("INSERT INTO orphans VALUES (1)")
    (tmp_path / "healthcheck.yaml").write_text(CONFIG)
    return {"DATABASE_URL": db_url, "HEALTHCHECK_CONFIG": str(tmp_path / "healthcheck.yaml"),
            "ALERTS_DIR": str(tmp_path / "alerts"), "LOG_DIR": str(tmp_path / "logs")}


def healthcheck(env: dict[str, str], tmp_path: Path) -> tuple[int, dict]:
    done = run_cli_process(["healthcheck", "--json"], env=env, cwd=tmp_path, timeout=120)
    assert "Traceback" not in done.stderr, done.stderr
    return done.exit_code, json.loads(done.stdout)


def the_alert(tmp_path: Path) -> dict:
    (alert,) = alert_files(tmp_path / "alerts")
    return alert


def test_500_is_retried_by_the_next_run(env: dict[str, str], tmp_path: Path) -> None:
    error = (500, {"Content-Type": "text/plain"}, b"internal error")
    with recording_server() as slack, recording_server() as hook:
        slack.default = hook.default = error
        env = {**env, "SLACK_WEBHOOK_URL": slack.url + "/services/T/B/x", "ALERT_WEBHOOK_URL": hook.url}
        code, first = healthcheck(env, tmp_path)

        assert code == 2
        alert = the_alert(tmp_path)
        assert set(first["alerts"]["notification_failures"][alert["id"]]) == {"slack-webhook", "webhook"}
        assert alert["last_notified_at"] is None  # not delivered: the next run tries again
        assert len(hook.requests) == 3  # the webhook retried 5xx within the run

        slack.default = hook.default = (200, {"Content-Type": "text/plain"}, b"ok")
        code, second = healthcheck(env, tmp_path)

    assert code == 2
    assert not second["alerts"]["notification_failures"]
    assert {n["id"] for n in second["alerts"]["notified"]} == {alert["id"]}
    assert the_alert(tmp_path)["last_notified_at"] is not None
    assert hook.requests[-1].json()["dedup_key"] == alert["fingerprint"]
    assert len(slack.requests) == 2


def test_429_honours_retry_after_within_the_run(env: dict[str, str], tmp_path: Path) -> None:
    limited = (429, {"Retry-After": "2", "Content-Type": "text/plain"}, b"slow down")
    with recording_server() as slack, recording_server() as hook:
        slack.script.append(limited)
        hook.script.append(limited)
        env = {**env, "SLACK_WEBHOOK_URL": slack.url + "/services/T/B/x", "ALERT_WEBHOOK_URL": hook.url}
        started = time.monotonic()
        code, report = healthcheck(env, tmp_path)
        elapsed = time.monotonic() - started

    assert code == 2
    assert not report["alerts"]["notification_failures"]
    assert the_alert(tmp_path)["last_notified_at"] is not None
    for server in (slack, hook):
        assert len(server.requests) == 2  # one 429, then delivered
    assert elapsed >= 4  # Retry-After: 2 was waited by each channel, not ignored


def test_timeouts_are_bounded_and_retried_next_run(env: dict[str, str], tmp_path: Path) -> None:
    with silent_server() as slack_url, silent_server() as hook_url:
        started = time.monotonic()
        code, report = healthcheck({**env, "SLACK_WEBHOOK_URL": slack_url, "ALERT_WEBHOOK_URL": hook_url}, tmp_path)
        elapsed = time.monotonic() - started

    assert code == 2
    alert = the_alert(tmp_path)
    failures = report["alerts"]["notification_failures"][alert["id"]]
    assert set(failures) == {"slack-webhook", "webhook"} and "imeout" in json.dumps(failures)
    assert alert["last_notified_at"] is None
    # one request timeout (10 s) per channel: a hung endpoint is not retried within the run
    assert elapsed < 30, elapsed

    with recording_server() as slack, recording_server() as hook:
        code, report = healthcheck({**env, "SLACK_WEBHOOK_URL": slack.url + "/services/T/B/x",
                                    "ALERT_WEBHOOK_URL": hook.url}, tmp_path)

    assert code == 2 and len(slack.requests) == 1 and len(hook.requests) == 1  # caught up
    assert the_alert(tmp_path)["last_notified_at"] is not None
