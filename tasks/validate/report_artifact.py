"""The validate report as the Prefect artifact ``validation-<database>`` (plain: key and markdown;
``tasks.py`` hands them to Prefect)."""

from __future__ import annotations

from migration_guard.tasks.artifacts import artifact_key
from migration_guard.tasks.validate.model import ValidationReport

#: the artifact key's prefix (stable: dashboards and safe-migrate link to it)
ARTIFACT_PREFIX = "validation"


def report_artifact_key(database: str) -> str:
    """``validation-<database>`` restricted to what Prefect accepts (lowercase, digits, dashes)."""
    return artifact_key(ARTIFACT_PREFIX, database)


def report_markdown(report: ValidationReport) -> str:
    """The report as a markdown table (the Prefect artifact)."""
    def cell(text: str) -> str:
        return text.replace("|", "\\|").replace("\n", " ")

    lines = [f"# Validation of {report.database}: {report.summary}", "",
             "| check | status | reason | fix |", "|---|---|---|---|"]
    for check in report.checks:
        reason = cell(check.reason) + "".join(f"<br>• {cell(d)}" for d in check.details[:10])
        lines.append(f"| {cell(check.title)} | **{check.status.value}** | {reason} | {cell(check.fix)} |")
    return "\n".join(lines) + "\n"
