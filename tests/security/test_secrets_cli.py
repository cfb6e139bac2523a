"""Secrets: every CLI command against a server that demands a password, with a distinctive one.

The password (and a wrong one) must appear in no stdout/stderr, log record, file written (logs,
alerts, backup metadata), Slack/webhook payload, HTTP response or exception text. The commands run
in-process (fast); pg_dump/pg_restore output reaches the real file descriptors, captured by capfd.
"""

from __future__ import annotations

import json
import logging
import traceback
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from tests.helpers import make_sql_project, run_cli, run_cli_process, serving_alerts_api
from tests.recording_server import RecordingServer, recording_server
from tests.security.conftest import SecretServer, assert_no_leak, files_leaking, leaks

pytestmark = pytest.mark.security

BASE = "CREATE TABLE items (id int PRIMARY KEY, sku text, qty int);\nINSERT INTO items VALUES (1, 'a', 1), (2, 'a', 2);\n"
ADD_NOTE = "ALTER TABLE items ADD COLUMN note text;\n"
FAILING = "ALTER TABLE items ADD COLUMN price int;\nCREATE UNIQUE INDEX CONCURRENTLY items_sku_key ON items (sku);\n"
HEALTH_CONFIG = {
    "freshness": [{"name": "late_fees", "query": "SELECT max(ran_at) FROM job_runs", "period": "1h"}],
    "assertions": [{"name": "no_negative", "query": "SELECT count(*) FROM items WHERE qty < 0",
                    "comparison": "==", "threshold": 0, "severity": "HIGH", "message": "negative qty"}],
}


class Scenario:
    """One project on the password server: folders, environment, and every text seen so far."""

    def __init__(self, server: SecretServer, root: Path, hooks: RecordingServer) -> None:
        self.server = server
        self.dbname = server.create_database("sec_cli")
        self.url = server.url(self.dbname)
        self.root = root
        self.migrations = make_sql_project(root, {"0001_base": BASE})
        self.hooks = hooks
        (root / "health.json").write_text(json.dumps(HEALTH_CONFIG))
        self.env = {
            "DATABASE_URL": self.url, "MIGRATIONS_DIR": str(self.migrations), "MIGRATION_TOOL": "sql",
            "BACKUP_DIR": str(root / "backups"), "ALERTS_DIR": str(root / "alerts"), "LOG_DIR": str(root / "logs"),
            "SLACK_WEBHOOK_URL": hooks.url + "/slack", "ALERT_WEBHOOK_URL": hooks.url + "/hook",
            "ENVIRONMENT": "sec",
        }

    def run(self, *args: str, expect: set[int] | int, **env: str):
        result = run_cli(list(args), env={**self.env, **env})
        codes = {expect} if isinstance(expect, int) else expect
        assert result.exit_code in codes, f"{args}: exit {result.exit_code}\n{result.output[-3000:]}"
        assert_no_leak(result.stdout, result.stderr, where=f"`{' '.join(args)}` output")
        return result

    def assert_clean(self) -> None:
        assert files_leaking(self.root) == {}
        for request in self.hooks.requests:
            assert_no_leak(request.path, json.dumps(request.headers), request.body.decode(errors="replace"),
                           where=f"HTTP {request.method} {request.path}")


@pytest.fixture(scope="module")
def hooks() -> Iterator[RecordingServer]:
    with recording_server() as server:
        yield server


@pytest.fixture(scope="module")
def scenario(secret_server: SecretServer, tmp_path_factory, hooks: RecordingServer) -> Iterator[Scenario]:
    made = Scenario(secret_server, tmp_path_factory.mktemp("secrets-cli"), hooks)
    yield made
    secret_server.drop_database(made.dbname)


@pytest.fixture(autouse=True)
def no_leak_in_logs_or_fds(caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture) -> Iterator[None]:
    """Every test: no log record (any logger, DEBUG up) and nothing written to fd 1/2 carries a secret."""
    caplog.set_level(logging.DEBUG)
    yield
    out, err = capfd.readouterr()
    assert_no_leak(caplog.text, where="log records")
    assert_no_leak(out, err, where="process stdout/stderr")


def test_status_lint_validate_and_backups(scenario: Scenario) -> None:
    scenario.run("migrate", "--skip-backup", "--skip-validate", expect=0)
    (scenario.migrations / "0002_note.sql").write_text(ADD_NOTE)
    scenario.run("status", expect=1)
    scenario.run("status", "--json", "--all", expect={0, 1, 2})
    scenario.run("lint", str(scenario.migrations), "--database-url", scenario.url, expect={0, 1})
    scenario.run("lint", "--pending", "--json", expect={0, 1, 2})
    scenario.run("validate", "--json", expect={0, 1})
    created = scenario.run("backup", "create", "--json", "--reason", "security", expect=0)
    scenario.run("backup", "list", expect=0)
    scenario.run("backup", "list", "--json", expect=0)
    scenario.run("backup", "verify", expect=0)
    scenario.run("backup", "verify", "--restore-check", "--json", expect=0)

    metadata = json.loads(created.stdout)
    assert metadata, "backup create --json printed no metadata"
    restored_name = f"{scenario.dbname}_restored"
    try:
        scenario.run("backup", "restore", metadata["path"], "--into", restored_name, "--json", expect=0)
        scenario.run("backup", "restore", metadata["path"], "--replace", expect=2)  # prints the plan only
    finally:
        scenario.server.drop_database(restored_name)
    assert any((scenario.root / "backups").rglob("*.json")), "no metadata file beside the dump"
    scenario.assert_clean()


def test_migrate_dry_run_apply_and_a_failing_migration(scenario: Scenario) -> None:
    scenario.run("migrate", "--dry-run", expect=0)
    scenario.run("migrate", "--dry-run", "--json", expect=0)
    scenario.run("migrate", "--skip-backup", expect=0)
    (scenario.migrations / "0003_prices.sql").write_text(FAILING)

    failed = scenario.run("migrate", "--json", expect=1)

    assert "23505" in failed.output or "duplicate" in failed.output.lower()
    assert list((scenario.root / "alerts").rglob("*.json")), "a failed migration raises an alert"
    assert scenario.hooks.requests, "the alert reached Slack / the webhook"
    scenario.assert_clean()


def test_recover_plan_then_a_real_recovery(scenario: Scenario) -> None:
    plan = scenario.run("recover", "--plan", expect={0, 1})  # 1: blocked while the duplicates remain
    assert "plan: forward 0003_prices" in plan.stdout
    scenario.run("recover", "--json", "--yes", expect=1)
    with psycopg.connect(scenario.url, autocommit=True) as conn:
        conn.execute("UPDATE items SET sku = 'b' WHERE id = 2")

    done = scenario.run("recover", "--yes", "--json", expect=0)

    assert json.loads(done.stdout)["outcome"] == "recovered"
    scenario.run("status", expect=0)
    scenario.assert_clean()


def test_healthcheck_with_failing_checks_alerts_and_serve(scenario: Scenario) -> None:
    from migration_guard.tasks.settings import load_settings

    with psycopg.connect(scenario.url, autocommit=True) as conn:
        conn.execute("CREATE TABLE job_runs (ran_at timestamptz)")
        conn.execute("INSERT INTO items VALUES (3, 'z', -1)")
    config = str(scenario.root / "health.json")

    scenario.run("healthcheck", "--config", config, expect=2)
    result = scenario.run("healthcheck", "--json", "--config", config, expect=2)
    listed = scenario.run("alerts", "list", "--all", "--json", expect=0)

    failing = {c["check"] for c in json.loads(result.stdout)["checks"] if c["status"] == "CRITICAL"}
    assert {"freshness:late_fees", "assertion:no_negative"} <= failing
    assert "late_fees" in listed.stdout
    assert any((scenario.root / "logs").rglob("*.log")), "healthcheck writes its JSON-lines log"
    settings = load_settings(**{k.lower(): v for k, v in scenario.env.items()}, healthcheck_config=config,
                             alerts_api_token="sec-token-1")
    with serving_alerts_api(settings) as base:
        bodies = [_get(base + path) for path in ("/health", "/alerts", "/alerts?status=firing", "/nope")]
    assert bodies[0][0] == 503 and "late_fees" in bodies[0][1]
    for status, body in bodies:
        assert_no_leak(body, where=f"serve response {status}")
    scenario.assert_clean()


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


WRONG_PASSWORD_COMMANDS = [
    (["status"], {3}),
    (["status", "--json"], {3}),
    (["lint", "--pending"], {2}),
    (["validate", "--json"], {1, 2}),
    (["backup", "create"], {1, 2}),
    (["backup", "verify", "--restore-check"], {1, 2}),  # the newest backup of the first test
    (["migrate"], {1, 2}),
    (["migrate", "--dry-run"], {1, 2}),
    (["recover", "--plan"], {1, 2}),
    (["recover", "--yes", "--json"], {1, 2}),
    (["healthcheck"], {2, 3}),
    (["healthcheck", "--json"], {2, 3}),
]


@pytest.mark.parametrize(("args", "codes"), WRONG_PASSWORD_COMMANDS, ids=lambda v: " ".join(v) if isinstance(v, list) else "")
def test_wrong_password_never_appears(scenario: Scenario, args: list[str], codes: set[int]) -> None:
    wrong = scenario.server.wrong_url(scenario.dbname)

    result = scenario.run(*args, expect=codes, DATABASE_URL=wrong)

    assert "password" in result.output.lower() or "authentication" in result.output.lower(), result.output
    scenario.assert_clean()


def test_lint_with_a_wrong_password_database_url_option(scenario: Scenario) -> None:
    wrong = scenario.server.wrong_url(scenario.dbname)
    result = scenario.run("lint", str(scenario.migrations), "--database-url", wrong, expect=2)
    assert "password" in result.output.lower()


def test_serve_health_with_a_wrong_password(scenario: Scenario) -> None:
    from migration_guard.tasks.settings import load_settings

    settings = load_settings(database_url=scenario.server.wrong_url(scenario.dbname),
                             alerts_dir=scenario.root / "alerts-wrong")
    with serving_alerts_api(settings) as base:
        status, body = _get(f"{base}/health")
    assert status == 503 and "fail" in body
    assert_no_leak(body, where="serve /health")


def _entry_points(server: SecretServer, dbname: str, tmp_path: Path):
    from migration_guard.tasks.settings import load_settings
    from migration_guard.tasks.backup.create import create_backup
    from migration_guard.tasks.db import connect
    from migration_guard.tasks.project import Project
    from migration_guard.tasks.status.pipeline import read_status

    wrong = server.wrong_url(dbname)
    good = server.url(dbname)
    migrations = make_sql_project(tmp_path, {"0001_a": "SELECT 1;"})
    return {
        "connect": lambda: connect(wrong, connect_timeout=5),
        "read_status": lambda: read_status(Project.from_settings(load_settings(database_url=wrong,
                                                                                migrations_dir=migrations))),
        "create_backup": lambda: create_backup(wrong, tmp_path / "b", reason="t"),
        "mysql_url": lambda: load_settings(database_url=good.replace("postgresql://", "mysql://")),
        "bad_port": lambda: connect(good.replace(f":{server.server.port}/", ":port/"), connect_timeout=5),
        "bad_option": lambda: connect(good + "?sslmode=sometimes", connect_timeout=5),
        "missing_database": lambda: connect(server.url("no_such_db"), connect_timeout=5),
    }


@pytest.mark.parametrize("entry", ["connect", "read_status", "create_backup", "mysql_url", "bad_port",
                                   "bad_option", "missing_database"])
def test_exception_text_never_carries_the_password(scenario: Scenario, tmp_path: Path, entry: str) -> None:
    """The library's own exceptions (message, args, chained causes, traceback text) are clean too."""
    from migration_guard.tasks.errors import MigrationGuardError

    call = _entry_points(scenario.server, scenario.dbname, tmp_path)[entry]
    with pytest.raises(Exception) as caught:
        call()

    error = caught.value
    assert isinstance(error, MigrationGuardError), f"{type(error).__name__}: not a one-line migration-guard error"
    text = "".join(traceback.format_exception(error)) + repr(error) + repr(error.args)
    assert not leaks(text), (leaks(text), text[-2000:])


def test_trigger_against_an_unreachable_api_keeps_the_password_out(scenario: Scenario, tmp_path: Path) -> None:
    result = run_cli_process(
        ["trigger", "safe-migrate/safe-migrate", "--param", f"database_url={scenario.url}", "--timeout", "5"],
        env={"PREFECT_API_URL": "http://127.0.0.1:9/api", "PREFECT_HOME": str(tmp_path), **scenario.env},
        timeout=120,
    )
    assert result.exit_code == 2, result.output
    assert_no_leak(result.stdout, result.stderr, where="trigger output")


def _other_spellings(server: SecretServer, dbname: str) -> dict[str, str]:
    from urllib.parse import quote

    from tests.security.conftest import ROLE, SECRET_RAW

    port = server.server.port
    escaped = SECRET_RAW.replace("\\", "\\\\").replace("'", "\\'")
    return {
        "keywords": f"host=127.0.0.1 port={port} user={ROLE} password='{escaped}' dbname={dbname}",
        "query": f"postgresql://{ROLE}@127.0.0.1:{port}/{dbname}?password={quote(SECRET_RAW, safe='')}",
    }


@pytest.mark.parametrize("spelling", ["keywords", "query"])
@pytest.mark.parametrize(("args", "codes"), [
    (["status"], {0, 1}), (["validate", "--json", "--no-backup"], {0, 1}), (["migrate", "--dry-run"], {0}),
    (["healthcheck", "--json"], {0, 1, 2}), (["backup", "create", "--no-verify"], {0}),
], ids=["status", "validate", "migrate-dry-run", "healthcheck", "backup-create"])
def test_keyword_and_query_string_dsns_keep_the_password_out(scenario: Scenario, spelling: str,
                                                             args: list[str], codes: set[int]) -> None:
    dsn = _other_spellings(scenario.server, scenario.dbname)[spelling]
    result = scenario.run(*args, expect=codes, DATABASE_URL=dsn)
    assert "password authentication failed" not in result.stdout, result.stdout  # it did log in
    scenario.assert_clean()
