"""End to end, issue 15: a worker whose environment holds only PREFECT_API_URL (a worker on another
host) delivers the healthcheck's own structured HIGH alert — Slack Block Kit and the webhook JSON —
from the channel blocks `deploy` saved; the automation's message links to the run; the RESOLVED
message arrives after recovery; `trigger`'s stream holds no Python traceback.

Real processes: `prefect server start`, `migration-guard deploy`, `prefect worker start` under
`env -i`, the real Prisma CLI for the failed migration, a local recording HTTP server for Slack and
the webhook. Everything started here is stopped here."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import pytest

from tests.helpers import add_prisma_migration, make_prisma_project, run_cli_process
from tests.prefect_server import PREFECT, running_prefect_server, server_env, stop_process_group
from tests.recording_server import recording_server

pytestmark = [pytest.mark.slow, pytest.mark.prefect]

INIT = "20250101000000_init"
BROKEN = "20250102000000_broken"
DROP = "20250103000000_drop_legacy"


def prisma(cli: Path, app: Path, db_url: str, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, DATABASE_URL=db_url, SHIM_SPLIT_SCRIPT="1")
    return subprocess.run([str(cli), *args], cwd=app, env=env, capture_output=True, text=True, timeout=180)


def wait_for(server, predicate, timeout: float = 30.0) -> list:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = [r for r in list(server.requests) if predicate(r)]
        if found:
            return found
        time.sleep(0.2)
    return []


def body(request) -> dict:
    try:
        return request.json()
    except ValueError:
        return {}


def test_worker_with_only_the_api_url_delivers_the_structured_alert_and_its_resolution(
    prisma_cli, db_url, tmp_path
):
    app = tmp_path / "app"
    migrations = make_prisma_project(app, {INIT: 'CREATE TABLE "Account" ("id" SERIAL PRIMARY KEY, "legacy" TEXT);'})
    assert prisma(prisma_cli, app, db_url, "migrate", "deploy").returncode == 0
    add_prisma_migration(migrations, BROKEN,
                         'ALTER TABLE "Account" ADD COLUMN "note" TEXT;\nALTER TABLE "Nope" ADD COLUMN "y" INT;\n')
    failed = prisma(prisma_cli, app, db_url, "migrate", "deploy")
    assert failed.returncode != 0, failed.stdout + failed.stderr

    with recording_server() as recorder, running_prefect_server(tmp_path / "server-home") as api:
        env = server_env(tmp_path / "client-home", api)
        env.update({
            "DATABASE_URL": db_url, "MIGRATIONS_DIR": str(migrations), "MIGRATION_TOOL": "prisma",
            "ENVIRONMENT": "e2e", "SLACK_WEBHOOK_URL": f"{recorder.url}/slack",
            "ALERT_WEBHOOK_URL": f"{recorder.url}/hook", "BACKUP_DIR": str(tmp_path / "backups"),
            "LOG_DIR": str(tmp_path / "logs"), "ALERTS_DIR": str(tmp_path / "alerts"),
        })
        deployed = run_cli_process(["deploy"], env=env, cwd=app, timeout=240)
        assert deployed.exit_code == 0, deployed.output

        elsewhere = tmp_path / "worker-host"
        elsewhere.mkdir()
        worker_env = {"PATH": os.environ["PATH"], "HOME": str(elsewhere), "PREFECT_API_URL": api,
                      "PREFECT_WORKER_QUERY_SECONDS": "1", "PREFECT_WORKER_PREFETCH_SECONDS": "5"}
        worker_log = open(tmp_path / "worker.log", "w")
        worker = subprocess.Popen(
            ["env", "-i", *(f"{k}={v}" for k, v in worker_env.items()),
             str(PREFECT), "worker", "start", "--pool", "migration-guard", "--type", "process"],
            cwd=elsewhere, stdout=worker_log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        trigger_env = {k: v for k, v in env.items()
                       if k not in ("SLACK_WEBHOOK_URL", "ALERT_WEBHOOK_URL", "DATABASE_URL", "MIGRATIONS_DIR")}
        try:
            checked = run_cli_process(["trigger", "healthcheck", "--timeout", "240"], env=trigger_env,
                                      cwd=tmp_path, timeout=300)
            log = (tmp_path / "worker.log").read_text()[-3000:]
            assert checked.exit_code == 1, checked.output + log
            assert "Traceback" not in checked.output, checked.output
            errors = [line for line in checked.stdout.splitlines() if " ERROR " in line]
            assert len(errors) == 1 and "HIGH alert(s) firing" in errors[0], checked.output
            run_url = next(line for line in checked.stdout.splitlines() if line.startswith("flow run ")).split(": ", 1)[1]
            assert run_url.startswith(api.removesuffix("/api") + "/runs/flow-run/"), run_url

            slack = wait_for(recorder, lambda r: r.path == "/slack" and "blocks" in body(r)
                             and BROKEN in json.dumps(body(r)))
            hook = wait_for(recorder, lambda r: r.path == "/hook" and body(r).get("dedup_key")
                            and body(r)["event_action"] == "trigger")
            assert slack, f"no Block Kit message; received {[(r.path, r.body[:200]) for r in recorder.requests]}"
            assert hook, f"no alert JSON; received {[(r.path, r.body[:200]) for r in recorder.requests]}"
            alert = body(hook[0])["alert"]
            assert body(hook[0])["severity"] == "HIGH" and alert["check"] == "migrations"
            assert alert["flow_run_url"] == run_url
            buttons = [b for b in body(slack[0])["blocks"] if b["type"] == "actions"]
            assert buttons and buttons[0]["elements"][0]["url"] == run_url

            automation = wait_for(recorder, lambda r: r.path == "/hook" and "healthcheck" in body(r).get("subject", ""))
            assert automation, "the failure automation did not post"
            assert f"Flow run: {run_url}" in body(automation[0])["body"]
            assert "Flow run: None" not in body(automation[0])["body"]

            (stored,) = [json.loads(p.read_text()) for p in (tmp_path / "alerts").glob("*.json")]
            assert stored["last_notified_at"] is not None  # notified: a channel accepted it

            recovered = run_cli_process(
                ["trigger", "recover", "--timeout", "240", "--param", "approve=true", "--param", "mode=rollback"],
                env=trigger_env, cwd=tmp_path, timeout=300)
            assert recovered.exit_code == 0, recovered.output + (tmp_path / "worker.log").read_text()[-3000:]
            # the developer fixes the migration: the broken one leaves the folder
            for path in (migrations / BROKEN).iterdir():
                path.unlink()
            (migrations / BROKEN).rmdir()

            healthy = run_cli_process(["trigger", "healthcheck", "--timeout", "240"], env=trigger_env,
                                      cwd=tmp_path, timeout=300)
            assert healthy.exit_code == 0, healthy.output
            resolved_hook = wait_for(recorder, lambda r: r.path == "/hook" and body(r).get("event_action") == "resolve")
            resolved_slack = wait_for(recorder, lambda r: r.path == "/slack" and "Resolved:" in body(r).get("text", ""))
            assert resolved_hook and body(resolved_hook[0])["dedup_key"] == body(hook[0])["dedup_key"]
            assert resolved_slack

            # CI's safe-migrate through the API: a destructive change blocks (one ERROR line, no
            # traceback) with the exact trigger command that acknowledges it; pasted, it applies.
            add_prisma_migration(migrations, DROP, 'ALTER TABLE "Account" DROP COLUMN "legacy";')
            blocked = run_cli_process(["trigger", "safe-migrate", "--timeout", "240"], env=trigger_env,
                                      cwd=tmp_path, timeout=300)
            assert blocked.exit_code == 1, blocked.output
            assert "Traceback" not in blocked.output and "Encountered exception" not in blocked.output, blocked.output
            advice = """migration-guard trigger safe-migrate --param 'allow=["ban-drop-column"]'"""
            assert advice in blocked.output, blocked.output
            allowed = run_cli_process(["trigger", "safe-migrate", "--timeout", "240", "--param",
                                       'allow=["ban-drop-column"]', "--param", "backup_scope=scoped"],
                                      env=trigger_env, cwd=tmp_path, timeout=300)
            assert allowed.exit_code == 0, allowed.output + (tmp_path / "worker.log").read_text()[-3000:]
            assert "acknowledged by --allow ban-drop-column" in allowed.output, allowed.output
            report_path = Path(os.environ.get("E2E_REPORT", tmp_path / "report.json"))
            report_path.write_text(json.dumps({
                "requests": [(r.path, body(r).get("summary") or body(r).get("subject") or body(r).get("text"))
                             for r in recorder.requests],
                "trigger_output": checked.output,
            }, indent=1))
        finally:
            stop_process_group(worker)
            worker_log.close()
