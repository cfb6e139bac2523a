"""`migration-guard trigger` against a real `prefect server start` and a real `serve` process.

One server and one serve process for the module (they cost ~10 s); each test points the run at its
own fresh database through --param.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from migration_guard.deployments.trigger import full_deployment_name, parse_params
from migration_guard.tasks.errors import ConfigError
from tests.helpers import make_prisma_project, run_cli_process
from tests.prefect_server import free_port, running_prefect_server, server_env, stop_process_group

pytestmark = [pytest.mark.prefect, pytest.mark.slow]

SERVE_SCRIPT = """
from migration_guard.flows.safe_migrate import safe_migrate_flow

if __name__ == "__main__":  # the runner starts runs with multiprocessing spawn, which re-imports this file
    safe_migrate_flow.serve(name="safe-migrate", print_starting_message=True)
"""


@pytest.fixture(scope="module")
def served(tmp_path_factory) -> Iterator[dict[str, str]]:
    """A Prefect server plus a `serve` process for safe-migrate/safe-migrate; yields the CLI env."""
    home = tmp_path_factory.mktemp("prefect-home")
    with running_prefect_server(home) as api_url:
        env = server_env(home, api_url)
        env["PREFECT_RUNNER_POLL_FREQUENCY"] = "1"
        script = home / "serve_safe_migrate.py"
        script.write_text(SERVE_SCRIPT)
        log = open(home / "serve.log", "w")
        serve_env = {**env, "PREFECT_LOGGING_LEVEL": "INFO"}  # run logs reach the API, and the trigger
        process = subprocess.Popen([sys.executable, str(script)], env=serve_env, stdout=log, stderr=subprocess.STDOUT,
                                   start_new_session=True, cwd=home)
        try:
            _wait_for_deployment(env, process, home)
            yield env
        finally:
            stop_process_group(process)
            log.close()


def _wait_for_deployment(env: dict[str, str], process: subprocess.Popen, home: Path, timeout: float = 90) -> None:
    probe = "import asyncio\nfrom prefect.client.orchestration import get_client\nasync def main():\n" \
            "    async with get_client() as c:\n        await c.read_deployment_by_name('safe-migrate/safe-migrate')\n" \
            "asyncio.run(main())\n"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"serve exited: {(home / 'serve.log').read_text()[-2000:]}")
        if subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True).returncode == 0:
            time.sleep(1.5)  # the runner starts polling right after registering
            return
        time.sleep(1)
    raise RuntimeError("the served deployment never appeared")


def trigger(env: dict[str, str], *args: str, timeout: float = 180):
    return run_cli_process(["trigger", *args], env={k: v for k, v in env.items()
                                                    if k.startswith(("PREFECT_", "PATH", "HOME"))}, timeout=timeout)


def test_params_and_names() -> None:
    assert parse_params(["dry_run=true", "lock_wait_s=5", "migrations_dir=/x/y", "hooks=[[\"echo\", \"a=b\"]]"]) == {
        "dry_run": True, "lock_wait_s": 5, "migrations_dir": "/x/y", "hooks": [["echo", "a=b"]]}
    assert full_deployment_name("safe-migrate") == "safe-migrate/safe-migrate"
    assert full_deployment_name("validate/nightly") == "validate/nightly"
    with pytest.raises(ConfigError, match="KEY=VALUE"):
        parse_params(["oops"])


def test_trigger_completed_run_streams_and_prints_the_report(served, tmp_path: Path, db_url: str, db: psycopg.Connection) -> None:
    migrations = make_prisma_project(tmp_path, {"20240101000000_init": "CREATE TABLE accounts (id bigint PRIMARY KEY);\n"})

    result = trigger(served, "safe-migrate", "--param", f"database_url={db_url}", "--param", f"migrations_dir={migrations}",
                     "--param", f"backup_dir={tmp_path / 'backups'}", "--timeout", "150")

    assert result.exit_code == 0, result.output
    assert "/runs/flow-run/" in result.stdout
    assert "state: Running" in result.stdout and "Completed" in result.stdout
    assert "applied 20240101000000_init" in result.stdout  # a streamed log line of the run
    assert "PASS connectivity" in result.stdout  # and of its validate subflow
    assert "safe-migrate 127.0.0.1" in result.stdout and "completed" in result.stdout  # the artifact
    assert db.execute("SELECT to_regclass('public.accounts') IS NOT NULL").fetchone()[0]
    assert list((tmp_path / "backups").glob("*.dump"))


def test_trigger_failed_run_exits_1_with_the_recovery_commands(served, tmp_path: Path, db_url: str, db: psycopg.Connection) -> None:
    migrations = make_prisma_project(tmp_path, {"20240101000000_broken": "CREATE TABLE t (id int);\nSELECT 1/0;\n"})

    result = trigger(served, "safe-migrate/safe-migrate", "--param", f"database_url={db_url}",
                     "--param", f"migrations_dir={migrations}", "--param", "backup=false", "--timeout", "150")

    assert result.exit_code == 1, result.output
    assert "Failed" in result.stdout
    assert "What to do now" in result.stdout and "migration-guard migrate" in result.stdout
    assert db.execute("SELECT to_regclass('public.t') IS NULL").fetchone()[0]


def test_trigger_timeout_exits_1_and_says_the_run_continues(served, tmp_path: Path, db_url: str) -> None:
    migrations = make_prisma_project(tmp_path, {"20240101000000_slow": "SELECT pg_sleep(4);\n"})

    result = trigger(served, "safe-migrate", "--param", f"database_url={db_url}", "--param", f"migrations_dir={migrations}",
                     "--param", "backup=false", "--param", "validation=false", "--timeout", "1")

    assert result.exit_code == 1, result.output
    assert "timed out (the run continues)" in result.stdout


def test_unknown_deployment_and_unreachable_api_exit_2(served) -> None:
    missing = trigger(served, "no-such-flow/nope")
    assert missing.exit_code == 2 and "not found" in missing.stderr

    unreachable = trigger({**served, "PREFECT_API_URL": f"http://127.0.0.1:{free_port()}/api"}, "safe-migrate", timeout=120)
    assert unreachable.exit_code == 2 and "cannot reach the Prefect API" in unreachable.stderr
