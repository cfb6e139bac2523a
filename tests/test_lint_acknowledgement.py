"""Issue 19 item 3 (lint side): a blocking policy finding prints the exact acknowledgement, and that
comment, pasted on the line above the statement, really acknowledges it (and only it)."""

from __future__ import annotations

from pathlib import Path

import pytest

from migration_guard.tasks.lint import lint_text, parse_config
from migration_guard.tasks.lint.registry import all_rules
from tests.helpers import run_cli

POLICY_SQL = {
    "ban-drop-column": 'ALTER TABLE "User" DROP COLUMN "legacy";',
    "ban-drop-table": 'DROP TABLE "OldThing";',
    "ban-drop-schema-or-database": "DROP SCHEMA archive CASCADE;",
    "ban-truncate": "TRUNCATE audit_log;",
    "renaming-column": 'ALTER TABLE "User" RENAME COLUMN "name" TO "fullName";',
    "renaming-table": 'ALTER TABLE "User" RENAME TO "Account";',
}


def test_every_policy_rule_has_a_case() -> None:
    assert {rule.code for rule in all_rules() if rule.policy} == set(POLICY_SQL)


def _paste_above(text: str, line: int, comment: str) -> str:
    lines = text.split("\n")
    lines.insert(line - 1, comment)
    return "\n".join(lines)


@pytest.mark.parametrize("position", ["first", "later"])
@pytest.mark.parametrize("rule", sorted(POLICY_SQL))
def test_the_printed_acknowledgement_pasted_above_the_statement_suppresses_it(rule: str, position: str) -> None:
    before = "" if position == "first" else 'CREATE TABLE "Other" ("id" BIGINT PRIMARY KEY);\n\n'
    text = before + POLICY_SQL[rule] + "\nSELECT 1;\n"
    blocking = parse_config(severity=f"{rule}=error")  # renames are warnings by default; a team may block them
    [finding] = [f for f in lint_text(text, "m.sql", config=blocking) if f.rule == rule]
    assert finding.severity == "error"
    assert finding.acknowledgement == f"-- migration-guard:ignore {rule} intended: reviewed destructive change"
    assert finding.fix.endswith("\n  " + finding.acknowledgement) and "m.sql:" in finding.fix
    acknowledged = lint_text(_paste_above(text, finding.line, finding.acknowledgement), "m.sql", config=blocking)
    assert rule not in [f.rule for f in acknowledged]
    assert "unknown-suppression-rule" not in [f.rule for f in acknowledged]


def test_an_acknowledgement_covers_only_its_statement() -> None:
    text = 'SELECT 1;\nALTER TABLE a DROP COLUMN x;\nALTER TABLE b DROP COLUMN y;\n'
    first = [f for f in lint_text(text) if f.rule == "ban-drop-column"][0]
    after = [f for f in lint_text(_paste_above(text, first.line, first.acknowledgement)) if f.rule == "ban-drop-column"]
    assert [f.line for f in after] == [4]


def test_a_warning_level_policy_finding_needs_no_acknowledgement() -> None:
    [finding] = [f for f in lint_text("ALTER TABLE a DROP COLUMN x;", config=parse_config(severity="ban-drop-column=warning"))
                 if f.rule == "ban-drop-column"]
    assert finding.acknowledgement == "" and "Acknowledge it" not in finding.fix


def test_the_cli_prints_the_acknowledgement(tmp_path: Path) -> None:
    path = tmp_path / "migration.sql"
    path.write_text('SELECT 1;\nALTER TABLE "User" DROP COLUMN "legacy";\n')
    result = run_cli(["lint", str(path)])
    assert result.exit_code == 1
    assert "-- migration-guard:ignore ban-drop-column intended: reviewed destructive change" in result.output
    assert f"{path}:2:1" in result.output
