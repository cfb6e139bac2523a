"""Post-migrate hooks and the start-up check: argv lists (never a shell), timeouts, captured output,
HTTP 2xx polling."""

from __future__ import annotations

import sys

import pytest

from migration_guard.tasks.errors import ConfigError
from migration_guard.tasks.migrate.hooks import check_url, parse_commands, run_hooks, startup_check
from tests.recording_server import recording_server


def test_parse_commands_forms() -> None:
    assert parse_commands('npx prisma generate; ./warm.sh "a b"') == [["npx", "prisma", "generate"], ["./warm.sh", "a b"]]
    assert parse_commands('echo "x;y"') == [["echo", "x;y"]]  # a quoted ; is not a separator
    assert parse_commands('[["echo", "$HOME"], "ls -l"]') == [["echo", "$HOME"], ["ls", "-l"]]
    assert parse_commands(None) == [] and parse_commands("  ") == []
    with pytest.raises(ConfigError, match="POST_MIGRATE_HOOKS: not valid JSON"):
        parse_commands('[["echo"')
    with pytest.raises(ConfigError, match="No closing quotation"):
        parse_commands('echo "unterminated')


def test_hooks_run_without_a_shell_capture_output_and_stop_at_the_first_failure(tmp_path) -> None:
    marker = tmp_path / "ran"
    results = run_hooks([
        ["echo", "$HOME; touch", str(marker)],  # no shell: printed literally, nothing touched
        [sys.executable, "-c", "import sys; print('to stderr', file=sys.stderr); sys.exit(3)"],
        ["touch", str(marker)],
    ], timeout_s=10)

    assert [r.ok for r in results] == [True, False]
    assert results[0].stdout.strip() == f"$HOME; touch {marker}"
    assert results[1].returncode == 3 and "to stderr" in results[1].stderr and "code 3" in results[1].error
    assert not marker.exists()


def test_hook_timeout_and_missing_command() -> None:
    slow, missing = run_hooks([[sys.executable, "-c", "import time; time.sleep(5)"]], timeout_s=0.5) + \
        run_hooks([["definitely-not-a-command-xyz"]], timeout_s=1)
    assert not slow.ok and slow.returncode is None and "timed out after 0.5s" in slow.error and slow.duration_s < 3
    assert not missing.ok and "command not found" in missing.error


def test_startup_check_url_polls_until_2xx() -> None:
    with recording_server(b"up") as server:
        server.script = [(503, {}, b"starting"), (503, {}, b"starting")]
        result = check_url(server.url, timeout_s=10, interval_s=0.05)
    assert result.ok and result.returncode == 200 and result.stdout == "up"
    assert len(server.requests) == 3


def test_startup_check_gives_up_with_the_last_answer() -> None:
    with recording_server() as server:
        server.default = (500, {}, b"boom")
        result = check_url(server.url, timeout_s=0.6, interval_s=0.1)
    assert not result.ok and result.returncode == 500 and "HTTP 500" in result.error and "gave up after 0.6s" in result.error


def test_startup_check_command_and_config_errors() -> None:
    assert startup_check(f"{sys.executable} -c 'pass'", None, timeout_s=10).ok
    assert startup_check(None, None, timeout_s=1) is None
    with pytest.raises(ConfigError, match="http"):
        startup_check(None, "ftp://x", timeout_s=1)
