"""At 80 columns the CLI stays usable: help never cuts an option name, `alerts list` prints each
alert id whole (it is what `alerts resolve ID` takes), and `--version` answers."""

from __future__ import annotations

from pathlib import Path

import pytest

from migration_guard.tasks.alerts.api import fire_alert
from migration_guard.tasks.settings import load_settings
from tests.helpers import run_cli_process

NARROW = {"COLUMNS": "80", "TERM": "dumb"}


@pytest.mark.parametrize("command, options", [
    (["migrate"], ["--statement-timeout", "--validate-constraints", "--startup-check-command", "--startup-check-url"]),
    (["recover"], ["--mode", "--plan"]),
    (["healthcheck"], ["--json"]),
])
def test_help_at_80_columns_shows_every_option_name_whole(command: list[str], options: list[str]) -> None:
    done = run_cli_process([*command, "--help"], env=NARROW)
    assert done.exit_code == 0
    assert all(len(line) <= 80 for line in done.stdout.splitlines()), done.stdout
    for option in options:
        assert option in done.stdout.split(), (option, done.stdout)
    assert "…" not in done.stdout


def test_alerts_list_at_80_columns_prints_ids_whole(tmp_path: Path) -> None:
    settings = load_settings(alerts_dir=tmp_path / "alerts")
    alert = fire_alert(settings, check="migrations", database="127.0.0.1:5432/a_rather_long_database_name",
                       category="DATABASE_MIGRATION", severity="HIGH",
                       title="Migration 20240102000000_add_a_long_descriptive_name failed", message="m",
                       impact="i", suggestions=[], component="healthcheck")
    done = run_cli_process(["alerts", "list"], env={**NARROW, "ALERTS_DIR": str(tmp_path / "alerts")})
    assert done.exit_code == 0
    assert alert.id in done.stdout.split(), done.stdout
    assert "Migration 20240102000000_add_a_long_descriptive_name failed" in done.stdout


def test_version() -> None:
    done = run_cli_process(["--version"], env=NARROW)
    assert done.exit_code == 0 and done.stdout.startswith("migration-guard ")


def test_a_healthcheck_written_to_a_pipe_keeps_each_summary_on_one_line(db_url: str) -> None:
    """Cron and CI logs: no terminal, no COLUMNS — Rich's default 80 columns squeezed the summary
    column to a few characters and split check names (`not_valid_constra` / `ints`)."""
    env = {"DATABASE_URL": db_url, "TERM": "dumb"}
    done = run_cli_process(["healthcheck", "--no-alerts"], env=env)

    assert done.exit_code == 0, done.output
    rows = [line for line in done.stdout.splitlines() if " not_valid_constraints " in line]
    assert len(rows) == 1 and "every constraint is validated" in rows[0], done.stdout
