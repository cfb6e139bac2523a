"""The validation report as plain data: verdict, exit code, JSON shape, artifact markdown."""

from __future__ import annotations

import json

from migration_guard.tasks.validate.model import CheckResult, CheckStatus, ValidationReport
from migration_guard.tasks.validate.report_artifact import report_markdown


def _report(*statuses: CheckStatus, strict: bool = False) -> ValidationReport:
    checks = tuple(CheckResult(f"c{i}", f"Check {i}", s, f"reason {i}") for i, s in enumerate(statuses))
    return ValidationReport("db:5432/app", checks, strict)


def test_warn_passes_unless_strict_and_skip_passes() -> None:
    assert _report(CheckStatus.PASS, CheckStatus.WARN, CheckStatus.SKIP).exit_code == 0
    assert _report(CheckStatus.PASS, CheckStatus.WARN, strict=True).exit_code == 1
    assert _report(CheckStatus.PASS, CheckStatus.FAIL).exit_code == 1


def test_json_shape_is_stable() -> None:
    data = json.loads(json.dumps(_report(CheckStatus.PASS, CheckStatus.FAIL).to_dict()))

    assert list(data) == ["database", "ok", "strict", "exit_code", "summary", "counts", "duration_s", "checks", "backup"]
    assert data["counts"] == {"PASS": 1, "WARN": 0, "FAIL": 1, "SKIP": 0}
    assert data["summary"] == "NOT safe to migrate (1 pass, 1 fail)"
    assert list(data["checks"][0]) == ["name", "title", "status", "reason", "details", "fix", "data"]


def test_markdown_escapes_table_cells_once() -> None:
    check = CheckResult("transactions", "Idle transactions", CheckStatus.FAIL, "1 idle | session",
                        ("pid 7: SELECT a | b",), "SELECT pg_terminate_backend(7);")
    text = report_markdown(ValidationReport("db:5432/app", (check,)))

    assert "| Idle transactions | **FAIL** | 1 idle \\| session<br>• pid 7: SELECT a \\| b | SELECT pg_terminate_backend(7); |" in text
    assert "\\\\|" not in text
