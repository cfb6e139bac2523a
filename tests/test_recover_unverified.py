"""A server restart during recover's final verification (issue 18, item 4): no traceback; the
report says the repair committed and verification must be re-run; exit code 4 (recovered, not
verified)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import psycopg

from migration_guard.tasks.recover.pipeline import RecoverOptions, run_recovery
from migration_guard.tasks.recover.steps import PLAIN_STEPS
from tests.test_repair import _sql_project

DUPLICATE_FREE = ("ALTER TABLE items ADD COLUMN price numeric(10,2);\nCREATE INDEX items_price_idx ON items (price);\n"
                  "ALTER TABLE items ADD COLUMN note text;\n")


def test_verification_lost_to_a_restart_reports_recovered_not_verified(tmp_path: Path, db_url: str) -> None:
    project = _sql_project(tmp_path, db_url, DUPLICATE_FREE, applied_statements=1, logs="")

    def verify_during_restart(*_args, **_kwargs):
        raise psycopg.errors.AdminShutdown("terminating connection due to administrator command")

    steps = dataclasses.replace(PLAIN_STEPS, verify=verify_during_restart)
    report = run_recovery(project, RecoverOptions(backup=False), steps, lambda _plan, _report: True)

    assert report.outcome == "recovered_unverified" and report.exit_code == 4, report.to_dict()
    assert "committed" in report.reason and "administrator command" in report.reason
    assert "migration-guard status" in report.next_step
    assert "recovered, NOT verified" in report.markdown()
    assert report.alerts == "alert raised"
    with psycopg.connect(db_url) as conn:  # the repair did commit
        assert conn.execute("SELECT count(*) FROM migration_guard.schema_migrations WHERE finished_at IS NOT NULL "
                            "AND migration_name = '0002_prices'").fetchone()[0] == 1
