"""The seed's own incident end to end: `20250101000000_enhance_payment_tracking` adds
payment-tracking columns, an index and a foreign key to an existing table and fails halfway on
orphan rows (the real Prisma CLI applies it statement by statement with SHIM_SPLIT_SCRIPT=1).
Recovery is proven with migration-guard status, the drift check and the real Prisma CLI."""

from __future__ import annotations

from pathlib import Path

import pytest

from migration_guard.cli.demo_scenario.scenario import FOLLOW_UP, FOLLOW_UP_SQL, INCIDENT, INCIDENT_SQL, INIT, INIT_SQL
from tests.test_recover_support import Scenario

pytestmark = [pytest.mark.prisma, pytest.mark.slow]

NEW_COLUMNS = ["status", "paidAt", "lateFeeAmount", "lateFeeAppliedAt"]


@pytest.fixture
def incident(tmp_path: Path, db_url: str, prisma_cli: Path) -> Scenario:
    scenario = Scenario(tmp_path, db_url, prisma_cli, {INIT: INIT_SQL})
    assert scenario.deploy().returncode == 0
    scenario.sql("INSERT INTO \"Customer\" (email, name) VALUES ('a@example.com', 'A'), ('b@example.com', 'B')")
    scenario.sql("INSERT INTO \"Payment\" (\"customerId\", amount, \"dueDate\") "
                 "SELECT CASE WHEN g % 10 = 0 THEN 900 + g ELSE 1 + g % 2 END, 10, now() FROM generate_series(1, 30) g")
    scenario.add(INCIDENT, INCIDENT_SQL)
    failed = scenario.deploy(split=True)
    assert failed.returncode != 0
    assert set(NEW_COLUMNS) <= set(scenario.columns("Payment"))  # halfway: the columns are there
    return scenario


def test_seed_incident_auto_stops_on_orphans_then_recovers_forward(incident: Scenario) -> None:
    assert incident.cli("status").exit_code == 2

    blocked = incident.recover("--yes")

    assert blocked.exit_code == 1, blocked.output
    assert "3 offending row(s)" in blocked.output
    assert "NOT EXISTS" in blocked.output  # the query that lists the orphans
    assert "--mode rollback" in blocked.output
    assert [r[1:] for r in incident.ledger() if r[0] == INCIDENT] == [(False, False)]  # nothing changed

    incident.sql('DELETE FROM "Payment" p WHERE NOT EXISTS (SELECT 1 FROM "Customer" c WHERE c.id = p."customerId")')
    recovered = incident.recover("--yes")

    assert recovered.exit_code == 0, recovered.output
    assert "recovered" in recovered.output
    assert "drift none" in recovered.output
    assert list(incident.backups.glob("*pre-recover*"))
    assert incident.sql("SELECT count(*) FROM pg_constraint WHERE conname = 'Payment_customerId_fkey'") == [(1,)]
    assert incident.cli("status").exit_code == 0
    assert incident.drift().clean
    prisma_status = incident.prisma_status()
    assert prisma_status.returncode == 0, prisma_status.stdout + prisma_status.stderr
    incident.add(FOLLOW_UP, FOLLOW_UP_SQL)
    deploy = incident.deploy()
    assert deploy.returncode == 0, deploy.stdout + deploy.stderr
    assert incident.cli("status").exit_code == 0


def test_seed_incident_rollback_then_prisma_deploys_it_again(incident: Scenario) -> None:
    rolled_back = incident.recover("--mode", "rollback", "--yes")

    assert rolled_back.exit_code == 0, rolled_back.output
    assert "backup restore" not in rolled_back.output  # undone statement by statement, no restore
    # the orphans are still there: the next step says to fix them before migrating, not just "migrate"
    assert "next: first fix the 3 row(s) that made it fail (list them: SELECT" in rolled_back.output, rolled_back.output
    assert not set(NEW_COLUMNS) & set(incident.columns("Payment"))
    assert incident.sql("SELECT count(*) FROM pg_class WHERE relname = 'Payment_status_dueDate_idx'") == [(0,)]
    assert [r[1:] for r in incident.ledger() if r[0] == INCIDENT] == [(False, True)]
    assert incident.cli("status").exit_code == 1  # pending again
    assert incident.drift().clean
    assert incident.prisma_status().returncode == 1  # Prisma: one migration not yet applied

    incident.sql('DELETE FROM "Payment" p WHERE NOT EXISTS (SELECT 1 FROM "Customer" c WHERE c.id = p."customerId")')
    deploy = incident.deploy()

    assert deploy.returncode == 0, deploy.stdout + deploy.stderr
    assert incident.prisma_status().returncode == 0
    assert incident.cli("status").exit_code == 0
    assert incident.drift().clean


def test_plan_only_changes_nothing_and_takes_no_backup(incident: Scenario) -> None:
    before = incident.ledger()

    result = incident.recover("--plan", "--mode", "rollback")

    assert result.exit_code == 0, result.output
    assert 'DROP COLUMN IF EXISTS "status"' in result.output
    assert 'DROP INDEX IF EXISTS "public"."Payment_status_dueDate_idx"' in result.output
    assert incident.ledger() == before
    assert not incident.backups.exists() or not list(incident.backups.iterdir())


def test_seed_incident_applied_in_one_transaction_by_native_prisma(tmp_path: Path, db_url: str, prisma_cli: Path) -> None:
    scenario = Scenario(tmp_path, db_url, prisma_cli, {INIT: INIT_SQL})
    assert scenario.deploy().returncode == 0
    scenario.sql("INSERT INTO \"Customer\" (email, name) VALUES ('a@example.com', 'A')")
    scenario.sql("INSERT INTO \"Payment\" (\"customerId\", amount, \"dueDate\") VALUES (1, 5, now()), (77, 5, now())")
    scenario.add(INCIDENT, INCIDENT_SQL)
    assert scenario.deploy().returncode != 0  # native-like: one implicit transaction, nothing remains
    assert not set(NEW_COLUMNS) & set(scenario.columns("Payment"))

    blocked = scenario.recover("--plan")
    assert "3 not_done" in blocked.output and "1 offending row(s)" in blocked.output

    scenario.sql('DELETE FROM "Payment" WHERE "customerId" = 77')
    done = scenario.recover("--yes")

    assert done.exit_code == 0, done.output
    assert set(NEW_COLUMNS) <= set(scenario.columns("Payment"))
    assert scenario.prisma_status().returncode == 0
    assert scenario.drift().clean
