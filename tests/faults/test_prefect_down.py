"""Prefect API down or unreachable (PREFECT_API_URL at a closed local port): the commands that do
not need Prefect keep working, `trigger` exits 2 with a clear message, and flows started from the
CLI fail clearly within a bounded time (subprocess timeouts are the guard) — never a traceback."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest

from tests.faults.support import assert_operator_error, silent_server
from tests.helpers import make_sql_project, run_cli_process

pytestmark = pytest.mark.faults

#: a run that needs more than this is a hang for an operator waiting on CI
BOUND_S = 45


def closed_port() -> int:
    """A local port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def env(tmp_path: Path, db_url: str) -> dict[str, str]:
    migrations = make_sql_project(tmp_path, {"0001_accounts": "CREATE TABLE accounts (id bigint PRIMARY KEY);\n"})
    return {"DATABASE_URL": db_url, "MIGRATIONS_DIR": str(migrations), "ALERTS_DIR": str(tmp_path / "alerts"),
            "BACKUP_DIR": str(tmp_path / "backups"), "LOG_DIR": str(tmp_path / "logs"),
            "PREFECT_API_URL": f"http://127.0.0.1:{closed_port()}/api", "PREFECT_HOME": str(tmp_path / "prefect")}


@pytest.mark.parametrize(("args", "exit_code", "needle"), [
    (["status"], 1, "0001_accounts"),
    (["lint"], 0, "0 error(s)"),
    (["alerts", "list"], 0, "no firing alerts"),
    (["healthcheck", "--no-alerts"], 0, "healthcheck: OK"),
    (["migrate", "--skip-backup"], 0, "applied 1 migration(s)"),
])
def test_commands_without_prefect_still_work(env: dict[str, str], tmp_path: Path, args: list[str], exit_code: int,
                                             needle: str) -> None:
    done = run_cli_process(args, env=env, cwd=tmp_path, timeout=BOUND_S)

    assert done.exit_code == exit_code, done.output
    assert needle in done.output
    assert "Traceback" not in done.output


def test_trigger_exits_2_naming_the_api(env: dict[str, str], tmp_path: Path) -> None:
    done = run_cli_process(["trigger", "safe-migrate", "--timeout", "10"], env=env, cwd=tmp_path, timeout=BOUND_S)

    assert done.exit_code == 2, done.output
    assert_operator_error(done.stderr, "cannot reach the Prefect API", env["PREFECT_API_URL"], "PREFECT_API_URL")


@pytest.mark.parametrize(("args", "exit_code"), [
    (["migrate", "--flow"], 1),
    (["validate", "--flow"], 1),
    (["recover", "--flow", "--yes"], 1),
    (["healthcheck", "--flow"], 3),
])
def test_flows_started_from_the_cli_fail_clearly_and_quickly(env: dict[str, str], tmp_path: Path, db_url: str,
                                                            args: list[str], exit_code: int) -> None:
    import psycopg

    started = time.monotonic()
    done = run_cli_process(args, env=env, cwd=tmp_path, timeout=BOUND_S)
    elapsed = time.monotonic() - started

    assert done.exit_code == exit_code, done.output
    assert_operator_error(done.stderr, "Prefect API", env["PREFECT_API_URL"], "without --flow")
    assert elapsed < BOUND_S
    with psycopg.connect(db_url) as conn:  # nothing was applied behind the failure
        assert conn.execute("SELECT to_regclass('accounts')").fetchone()[0] is None


def test_a_hung_api_is_not_waited_for(env: dict[str, str], tmp_path: Path) -> None:
    """An API that accepts connections and never answers (a hung server, a stuck proxy)."""
    with silent_server() as url:
        hung = {**env, "PREFECT_API_URL": url.removesuffix("/hook") + "/api"}
        started = time.monotonic()
        trigger = run_cli_process(["trigger", "safe-migrate", "--timeout", "5"], env=hung, cwd=tmp_path, timeout=BOUND_S)
        flow = run_cli_process(["healthcheck", "--flow"], env=hung, cwd=tmp_path, timeout=BOUND_S)
        elapsed = time.monotonic() - started

    assert trigger.exit_code == 2, trigger.output
    assert_operator_error(trigger.stderr, "cannot reach the Prefect API", "PREFECT_API_URL")
    assert flow.exit_code == 3, flow.output
    assert_operator_error(flow.stderr, "cannot reach the Prefect API", "without --flow")
    assert elapsed < 30, elapsed
