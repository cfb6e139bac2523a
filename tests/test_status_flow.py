"""The status flow runs for real under Prefect's test harness, and retries transient failures."""

from __future__ import annotations

from pathlib import Path

import pytest

from migration_guard.flows.status import status_flow
from migration_guard.tasks.errors import Category, DatabaseError
from migration_guard.tasks.retry import is_transient
from tests.helpers import make_prisma_project


@pytest.mark.prefect
def test_status_flow_reports_pending(prefect_harness: None, tmp_path: Path, db_url: str) -> None:
    directory = make_prisma_project(tmp_path, {"20240101000000_init": "CREATE TABLE a (id int);"})

    result = status_flow(database_url=db_url, migrations_dir=str(directory))

    assert result["summary"]["pending"] == 1
    assert result["exit_code"] == 1


def test_only_transient_errors_are_retried() -> None:
    refused = DatabaseError("refused", category=Category.DATABASE_CONNECTION, kind="connection_refused")
    bad_password = DatabaseError("bad pw", category=Category.PERMISSION, kind="bad_password")
    missing = DatabaseError("no db", category=Category.DATABASE_CONNECTION, kind="missing_database")

    assert is_transient(refused)
    assert not is_transient(bad_password)
    assert not is_transient(missing)
    assert not is_transient(ValueError("x"))
