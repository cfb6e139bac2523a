"""End to end against a real `prefect server start`: deploy (blocks, deployments, automations),
a real process worker, CI's `migration-guard trigger`, recover with approve=True, and the
failure automation posting to a local webhook. Everything started here is stopped here."""

from __future__ import annotations

import json
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import psycopg
import pytest

from migration_guard.tasks.ledgers.prisma import PrismaLedger
from tests.helpers import add_prisma_migration, make_prisma_project, run_cli_process
from tests.prefect_server import PREFECT, running_prefect_server, server_env, stop_process_group

pytestmark = [pytest.mark.slow, pytest.mark.prefect]

INIT = "20250101000000_init"
BROKEN = "20250102000000_broken"
PARTIAL = "20250103000000_partial"


class Webhook:
    """A local HTTP server recording every POSTed JSON body."""

    def __init__(self) -> None:
        received = self.received = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                received.append(json.loads(body or b"{}"))
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def wait_for(self, predicate, timeout: float = 60) -> list[dict]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            matching = [body for body in list(self.received) if predicate(body)]
            if matching:
                return matching
            time.sleep(0.25)
        return []

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def stack(tmp_path_factory) -> Iterator[dict]:
    """Prefect server + webhook; yields what the tests share."""
    root = tmp_path_factory.mktemp("e2e")
    webhook = Webhook()
    try:
        with running_prefect_server(root / "prefect-home") as api_url:
            yield {"api": api_url, "root": root, "webhook": webhook}
    finally:
        webhook.close()


def read_ledger(dsn: str) -> dict[str, str]:
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "SELECT migration_name, finished_at IS NOT NULL, rolled_back_at IS NOT NULL FROM _prisma_migrations "
            "ORDER BY started_at"
        ).fetchall()
    state: dict[str, str] = {}
    for name, finished, rolled_back in rows:
        state[name] = "rolled_back" if rolled_back else ("applied" if finished else "failed")
    return state


def make_failed_migration(dsn: str, migrations_dir: Path) -> None:
    """PARTIAL's first statement ran, its second never did; Prisma's failed row says lock timeout."""
    add_prisma_migration(migrations_dir, PARTIAL,
                         'ALTER TABLE "Account" ADD COLUMN "note" TEXT;\n'
                         'CREATE INDEX "Account_note_idx" ON "Account"("note");\n')
    ledger = PrismaLedger(migrations_dir)
    migration = next(m for m in ledger.read_migrations() if m.name == PARTIAL)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute('ALTER TABLE "Account" ADD COLUMN "note" TEXT')
        entry = ledger.record_started(conn, migration)
        ledger.record_failed(conn, entry, f"Migration name: {PARTIAL}\n\nDatabase error code: 55P03\n\n"
                                          "Database error:\nERROR: canceling statement due to lock timeout\n")


def test_deploy_worker_trigger_recover_and_automation(stack, db_url, tmp_path, pg_admin_url):
    api, webhook = stack["api"], stack["webhook"]
    migrations = make_prisma_project(tmp_path / "app", {INIT: 'CREATE TABLE "Account" ("id" SERIAL PRIMARY KEY);'})
    env = server_env(stack["root"] / "client-home", api)
    env.update({
        "DATABASE_URL": db_url, "MIGRATIONS_DIR": str(migrations), "MIGRATION_TOOL": "prisma",
        "ENVIRONMENT": "e2e", "ALERT_WEBHOOK_URL": webhook.url,
        "BACKUP_DIR": str(tmp_path / "backups"), "LOG_DIR": str(tmp_path / "logs"),
        "ALERTS_DIR": str(tmp_path / "logs" / "alerts"),
    })

    deployed = run_cli_process(["deploy"], env=env, cwd=tmp_path, timeout=240)
    assert deployed.exit_code == 0, deployed.output
    assert "automation migration-guard: flow run failed or crashed" in deployed.stdout

    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings({PREFECT_API_URL: api}), get_client(sync_client=True) as client:
        healthcheck = client.read_deployment_by_name("healthcheck/healthcheck")
        assert [s.schedule.cron for s in healthcheck.schedules] == ["0 * * * *"]
        assert all(s.active for s in healthcheck.schedules)

    worker_env = dict(env, PREFECT_WORKER_QUERY_SECONDS="1", PREFECT_WORKER_PREFETCH_SECONDS="5")
    worker_log = open(tmp_path / "worker.log", "w")
    worker = subprocess.Popen(
        [str(PREFECT), "worker", "start", "--pool", "migration-guard", "--type", "process"],
        env=worker_env, cwd=tmp_path, stdout=worker_log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    try:
        # CI: safe-migrate applies the pending migration and exits 0
        migrated = run_cli_process(["trigger", "safe-migrate", "--timeout", "240"], env=env, cwd=tmp_path, timeout=300)
        assert migrated.exit_code == 0, migrated.output + (tmp_path / "worker.log").read_text()[-3000:]
        assert read_ledger(db_url) == {INIT: "applied"}

        # the hourly healthcheck, triggered now, publishes its table artifact
        checked = run_cli_process(["trigger", "healthcheck", "--timeout", "240"], env=env, cwd=tmp_path, timeout=300)
        assert checked.exit_code == 0, checked.output
        with temporary_settings({PREFECT_API_URL: api}), get_client(sync_client=True) as client:
            from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

            artifacts = client.read_artifacts(artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=["db-health-e2e"])))
        assert artifacts and artifacts[0].type == "table"
        assert "connectivity" in json.dumps(artifacts[0].data)

        # a failing migration: safe-migrate exits 1, nothing half-applied, and the automation posts
        add_prisma_migration(migrations, BROKEN, 'ALTER TABLE "Account" ADD COLUMN "x" INT;\nALTER TABLE "Nope" ADD COLUMN "y" INT;\n')
        failed = run_cli_process(["trigger", "safe-migrate", "--timeout", "240"], env=env, cwd=tmp_path, timeout=300)
        assert failed.exit_code == 1, failed.output
        assert read_ledger(db_url)[BROKEN] == "rolled_back"
        posts = webhook.wait_for(lambda body: "subject" in body and "safe-migrate" in body["subject"], timeout=60)
        assert posts, f"no automation notification; received {webhook.received}"
        assert posts[0]["source"] == "migration-guard" and "Failed" in posts[0]["subject"]
        assert "safe-migrate/" in posts[0]["body"] and "database_block=default" in posts[0]["body"]
        (migrations / BROKEN / "migration.sql").unlink()
        (migrations / BROKEN).rmdir()

        # recover, started like an operator from the UI with approve=True, on a second database
        second = db_url.rsplit("/", 1)[0] + "/" + db_url.rsplit("/", 1)[1] + "_r"
        with psycopg.connect(pg_admin_url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{second.rsplit("/", 1)[1]}"')
        try:
            recover_dir = make_prisma_project(tmp_path / "app2", {INIT: 'CREATE TABLE "Account" ("id" SERIAL PRIMARY KEY);'})
            ledger = PrismaLedger(recover_dir)
            with psycopg.connect(second, autocommit=True) as conn:
                ledger.ensure_table(conn)
                init = ledger.read_migrations()[0]
                entry = ledger.record_started(conn, init)
                conn.execute(init.sql)
                ledger.record_finished(conn, entry)
            make_failed_migration(second, recover_dir)
            assert read_ledger(second)[PARTIAL] == "failed"
            recovered = run_cli_process(
                ["trigger", "recover", "--timeout", "240", "--param", "approve=true",
                 "--param", f"database_url={second}", "--param", f"migrations_dir={recover_dir}"],
                env=env, cwd=tmp_path, timeout=300,
            )
            assert recovered.exit_code == 0, recovered.output + (tmp_path / "worker.log").read_text()[-3000:]
            assert read_ledger(second)[PARTIAL] == "applied"
            with psycopg.connect(second) as conn:
                assert conn.execute("SELECT to_regclass('\"Account_note_idx\"') IS NOT NULL").fetchone()[0]
        finally:
            with psycopg.connect(pg_admin_url, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{second.rsplit("/", 1)[1]}" WITH (FORCE)')
    finally:
        stop_process_group(worker)
        worker_log.close()
    assert worker.poll() is not None


def test_trigger_reports_a_missing_deployment_as_unreachable(stack, tmp_path):
    env = server_env(stack["root"] / "client-home", stack["api"])
    result = run_cli_process(["trigger", "no-such-flow", "--timeout", "10"], env=env, cwd=tmp_path, timeout=120)
    assert result.exit_code == 2, result.output


def test_dead_mans_switch_fires_when_no_run_completes(stack):
    """The proactive trigger really fires: a 15-second window with no Completed run of a flow."""
    from datetime import timedelta

    from prefect.client.orchestration import get_client
    from prefect.events.actions import SendNotification
    from prefect.events.schemas.automations import AutomationCore
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from migration_guard.blocks.channels import generic_webhook
    from migration_guard.deployments.automations import SILENCE_BODY, silence_trigger

    webhook = stack["webhook"]
    subject = "e2e: silent-flow has not completed"
    with temporary_settings({PREFECT_API_URL: stack["api"]}):
        block_id = generic_webhook(webhook.url).save("e2e-silence", overwrite=True)
        with get_client(sync_client=True) as client:
            client.create_automation(AutomationCore(
                name="e2e silence", trigger=silence_trigger("e2e-silent-flow", timedelta(seconds=15)),
                actions=[SendNotification(block_document_id=block_id, subject=subject, body=SILENCE_BODY)],
            ))
    posts = webhook.wait_for(lambda body: body.get("subject") == subject, timeout=90)
    assert posts, f"the dead-man's switch never fired; received {webhook.received}"
    assert "No healthcheck flow run has finished (Completed or Failed)" in posts[0]["body"]
