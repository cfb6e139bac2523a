"""Secrets in Prefect: the CLI's --flow paths (validate, migrate incl. a failing migration, recover,
healthcheck) against the password server, then everything the Prefect API stored is read back —
flow-run parameters, state messages, artifacts, logs, task runs — and none carries the password.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from tests.helpers import make_sql_project, run_cli
from tests.security.conftest import SecretServer, assert_no_leak, files_leaking

pytestmark = [pytest.mark.prefect, pytest.mark.security]

BASE = "CREATE TABLE items (id int PRIMARY KEY, sku text);\nINSERT INTO items VALUES (1, 'a'), (2, 'a');\n"
FAILING = "ALTER TABLE items ADD COLUMN price int;\nCREATE UNIQUE INDEX CONCURRENTLY items_sku_key ON items (sku);\n"


async def _everything_stored() -> dict[str, object]:
    from prefect.client.orchestration import get_client

    async with get_client() as client:
        flow_runs = await client.read_flow_runs(limit=200)
        artifacts = await client.read_artifacts(limit=200)
        logs = await client.read_logs(limit=200)
        task_runs = await client.read_task_runs(limit=200)
        blocks = await client.read_block_documents(include_secrets=False)
        flows = {r.flow_id: (await client.read_flow(r.flow_id)).name for r in flow_runs}
    return {
        "flow_runs": [{"flow": flows[r.flow_id], "parameters": r.parameters, "message": r.state.message if r.state else None,
                       "state": r.state.model_dump(mode="json") if r.state else None} for r in flow_runs],
        "artifacts": [{"key": a.key, "data": a.data, "description": a.description} for a in artifacts],
        "logs": [log.message for log in logs],
        "task_runs": [{"name": t.name, "inputs": t.task_inputs and {k: [str(i) for i in v] for k, v in t.task_inputs.items()},
                       "message": t.state.message if t.state else None} for t in task_runs],
        "blocks": [{"name": b.name, "data": b.data} for b in blocks],
    }


@pytest.fixture
def api_logs_at_info() -> Iterator[None]:
    """Ship INFO run logs to the API (the test session keeps Prefect at WARNING)."""
    names = ("prefect", "prefect.flow_runs", "prefect.task_runs")
    levels = {name: logging.getLogger(name).level for name in names}
    for name in names:
        logging.getLogger(name).setLevel(logging.INFO)
    yield
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)


def test_flow_runs_store_no_password(secret_server: SecretServer, tmp_path: Path, prefect_harness,
                                     api_logs_at_info, capfd: pytest.CaptureFixture) -> None:
    dbname = secret_server.create_database("sec_flow")
    url = secret_server.url(dbname)
    migrations = make_sql_project(tmp_path, {"0001_base": BASE})
    env = {"DATABASE_URL": url, "MIGRATIONS_DIR": str(migrations), "MIGRATION_TOOL": "sql",
           "BACKUP_DIR": str(tmp_path / "backups"), "ALERTS_DIR": str(tmp_path / "alerts"),
           "LOG_DIR": str(tmp_path / "logs")}
    outputs = []
    try:
        outputs.append(run_cli(["migrate", "--flow", "--skip-validate", "--skip-backup"], env))
        assert outputs[-1].exit_code == 0, outputs[-1].output
        (migrations / "0002_prices.sql").write_text(FAILING)
        outputs.append(run_cli(["validate", "--flow", "--no-backup"], env))
        assert outputs[-1].exit_code in (0, 1), outputs[-1].output
        outputs.append(run_cli(["migrate", "--flow", "--skip-backup"], env))
        assert outputs[-1].exit_code == 1, outputs[-1].output
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("UPDATE items SET sku = 'b' WHERE id = 2")
        outputs.append(run_cli(["recover", "--flow", "--yes", "--no-backup"], env))
        assert outputs[-1].exit_code == 0, outputs[-1].output
        outputs.append(run_cli(["healthcheck", "--flow", "--json"], env))
        assert outputs[-1].exit_code in (0, 1), outputs[-1].output
        outputs.append(run_cli(["blocks", "register"], env))
        outputs.append(run_cli(["blocks", "create-from-env", "sec-flow", "--overwrite"], env))
        assert outputs[-1].exit_code == 0, outputs[-1].output
        from migration_guard.flows.healthcheck import healthcheck_flow

        from_blocks = healthcheck_flow(database_block="sec-flow", project_block="sec-flow")
        assert {c["check"]: c["status"] for c in from_blocks["checks"]}["connectivity"] == "OK"
        wrong = {**env, "DATABASE_URL": secret_server.wrong_url(dbname)}
        outputs.append(run_cli(["healthcheck", "--flow"], wrong))
        assert outputs[-1].exit_code in (2, 3), outputs[-1].output
        outputs.append(run_cli(["migrate", "--flow", "--skip-backup"], wrong))
        assert outputs[-1].exit_code in (1, 2), outputs[-1].output
        outputs.append(run_cli(["recover", "--flow", "--yes"], wrong))
        assert outputs[-1].exit_code in (1, 2), outputs[-1].output
    finally:
        secret_server.drop_database(dbname)

    for result in outputs:
        assert_no_leak(result.stdout, result.stderr, where="CLI --flow output")
    out, err = capfd.readouterr()
    assert_no_leak(out, err, where="process stdout/stderr")
    stored = asyncio.run(_everything_stored())
    assert any(a["key"] and a["key"].startswith("safe-migrate") for a in stored["artifacts"]), stored["artifacts"]
    for kind, items in stored.items():
        for item in items:
            assert_no_leak(json.dumps(item, default=str), where=f"Prefect API {kind}")
    assert files_leaking(tmp_path) == {}
    # what Prefect keeps on disk: the API's SQLite database (block secrets encrypted) and PREFECT_HOME
    from prefect.settings import PREFECT_SERVER_DATABASE_CONNECTION_URL

    database_file = Path(PREFECT_SERVER_DATABASE_CONNECTION_URL.value().split("///", 1)[1])
    assert database_file.exists()
    assert files_leaking(database_file.parent) == {}
    assert files_leaking(Path(os.environ["PREFECT_HOME"])) == {}
