"""Global options are accepted before and after the command."""

from __future__ import annotations

import pytest

from migration_guard.cli import hoist_global_options


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["--database-url", "U", "--migrations-dir", "D", "status"], ["--database-url", "U", "--migrations-dir", "D", "status"]),
        (["-d", "U", "-m", "D", "status", "--json"], ["-d", "U", "-m", "D", "status", "--json"]),
        (["status", "--database-url", "U", "--json"], ["--database-url", "U", "status", "--json"]),
        (["status", "--database-url=U", "--tool", "sql"], ["--database-url=U", "--tool", "sql", "status"]),
        (["-d", "U", "backup", "create", "--schema", "s"], ["-d", "U", "--schema", "s", "backup", "create"]),
        (["lint", "-d", "x.sql"], ["lint", "-d", "x.sql"]),  # a command's own short flag is left alone
        (["--help"], ["--help"]),
    ],
)
def test_hoist_global_options(argv: list[str], expected: list[str]) -> None:
    assert hoist_global_options(argv) == expected
