"""The demo: its scenario reproduces the seed's incident for real, and the whole story recovers it."""

from __future__ import annotations

import json
import uuid

import psycopg
import pytest

from migration_guard.tasks.settings import load_settings
from migration_guard.cli.demo_scenario import scenario
from migration_guard.cli.demo_scenario.server import DemoServer, drop_database, recreate_database
from migration_guard.cli.demo_scenario.story import DemoContext, DemoPaths, FlowNotAvailable, StepFailed, timed
from migration_guard.tasks.project import Project
from migration_guard.tasks.status.pipeline import read_status
from tests.helpers import run_cli_process


def status_of(dsn: str, project: scenario.DemoProject) -> dict[str, str]:
    report = read_status(Project.from_settings(load_settings(database_url=dsn, migrations_dir=project.migrations_dir)))
    return {s.name: s.state.value for s in report.statuses}


def test_scenario_leaves_the_seed_incident_half_applied(db_url, tmp_path):
    project = scenario.build_project(tmp_path)
    scenario.seed_production(db_url, project)
    incident = scenario.reproduce_incident(db_url, project)

    assert incident.sqlstate == "23503"
    assert incident.columns_added == ("status", "paidAt", "lateFeeAmount", "lateFeeAppliedAt")
    assert incident.index_created and not incident.foreign_key_created
    assert incident.orphan_payments == len(scenario.ORPHAN_CUSTOMER_IDS)
    assert status_of(db_url, project) == {scenario.INIT: "applied", scenario.INCIDENT: "failed"}
    with psycopg.connect(db_url) as conn:
        logs, steps = conn.execute(
            "SELECT logs, applied_steps_count FROM _prisma_migrations WHERE migration_name = %s", (scenario.INCIDENT,)
        ).fetchone()
        payments = conn.execute('SELECT count(*) FROM "Payment"').fetchone()[0]
    assert "Database error code: 23503" in logs and f"Migration name: {scenario.INCIDENT}" in logs
    assert steps == 0
    assert payments == scenario.PAYMENTS


def test_archiving_orphans_keeps_every_row_and_leaves_the_migrated_schema_alone(db_url, tmp_path):
    project = scenario.build_project(tmp_path)
    scenario.seed_production(db_url, project)
    scenario.reproduce_incident(db_url, project)

    assert scenario.archive_orphan_payments(db_url) == 3
    assert scenario.observe_incident(db_url).orphan_payments == 0
    with psycopg.connect(db_url) as conn:
        kept = conn.execute('SELECT count(*) FROM "Payment"').fetchone()[0]
        archived = conn.execute("SELECT count(*) FROM archive.orphan_payments").fetchone()[0]
        public_tables = {r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}
    assert (kept, archived) == (scenario.PAYMENTS - 3, 3)
    assert public_tables == {"Customer", "Payment", "LateFeeRun", "_prisma_migrations"}


def test_build_project_replaces_an_earlier_run(tmp_path):
    project = scenario.build_project(tmp_path)
    project.add_follow_up()
    scenario.build_project(tmp_path)
    assert [m.name for m in project.ledger().read_migrations()] == [scenario.INIT, scenario.INCIDENT]
    assert "@@index([status, dueDate])" in (tmp_path / "prisma" / "schema.prisma").read_text()


def test_the_demo_database_is_its_own(pg_admin_url):
    server = DemoServer(pg_admin_url, "test")
    name = f"mg_demo_{uuid.uuid4().hex[:8]}"
    url = recreate_database(server, name)
    try:
        with psycopg.connect(url) as conn:
            assert conn.execute("SELECT current_database()").fetchone()[0] == name
        assert recreate_database(server, name) == url  # a leftover from a crashed run is replaced
    finally:
        drop_database(server, name)
    with psycopg.connect(pg_admin_url) as conn:
        assert conn.execute("SELECT count(*) FROM pg_database WHERE datname = %s", (name,)).fetchone()[0] == 0


def test_a_step_whose_flow_is_missing_is_reported_not_crashed(tmp_path):
    def missing():
        raise FlowNotAvailable("flows/x.py:x_flow is not installed")

    def failing():
        raise StepFailed("observed the wrong thing", ["detail"])

    result = timed("x", missing)
    assert (result.ok, result.available) == (False, False) and "not available yet" in result.headline
    result = timed("y", failing)
    assert (result.ok, result.available, result.details) == (False, True, ["detail"])
    ctx = DemoContext(DemoServer("postgresql://x@h/db", "t"), DemoPaths(tmp_path))
    assert ctx.paths.environment()["ALERTS_DIR"] == str(tmp_path / "logs" / "alerts")


@pytest.mark.slow
def test_demo_recovers_the_incident_end_to_end(pg_admin_url, tmp_path):
    name = f"mg_demo_{uuid.uuid4().hex[:8]}"
    home = tmp_path / "prefect-home"
    result = run_cli_process(
        ["demo", "--dir", str(tmp_path / "demo"), "--database", name],
        env={"DATABASE_URL": pg_admin_url, "PREFECT_HOME": str(home), "PREFECT_API_URL": "http://127.0.0.1:9/api",
             "SLACK_WEBHOOK_URL": "http://127.0.0.1:9/must-not-be-called"},
        cwd=tmp_path, timeout=300,
    )
    assert result.exit_code == 0, result.output
    assert "incident recovered" in result.stdout
    for step in ("incident", "healthcheck", "recover", "healthcheck again", "safe-migrate"):
        assert f"✔ {step} (" in result.stdout, step
    alerts = [json.loads(p.read_text()) for p in (tmp_path / "demo" / "logs" / "alerts").glob("*.json")]
    migration_alerts = [a for a in alerts if scenario.INCIDENT in a["title"]]
    assert migration_alerts and all(a["status"] == "resolved" for a in migration_alerts)
    assert migration_alerts[0]["severity"] == "HIGH"
    assert any(p.name.endswith(".dump") or p.is_dir() for p in (tmp_path / "demo" / "backups").iterdir())
    with psycopg.connect(pg_admin_url) as conn:  # dropped afterwards
        assert conn.execute("SELECT count(*) FROM pg_database WHERE datname = %s", (name,)).fetchone()[0] == 0
    assert "must-not-be-called" not in result.output
    assert "temporary local API ready" in result.stdout  # never the configured (here: dead) API
    assert "ERROR" not in result.stderr, result.stderr[-2000:]
