"""The whole rule set on realistic Prisma-generated migrations: no errors on the safe corpus, the
expected errors (and only those) on the unsafe ones."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from migration_guard.tasks.lint import lint_migrations
from migration_guard.tasks.models import Migration

CORPUS = Path(__file__).parent / "data" / "prisma_corpus"


def _migrations(folder: Path) -> list[Migration]:
    return [
        Migration(name=p.parent.name, path=p, sql=p.read_text(), checksum="")
        for p in sorted(folder.glob("*/migration.sql"))
    ]


def test_safe_corpus_has_no_errors() -> None:
    migrations = _migrations(CORPUS / "migrations")
    assert len(migrations) >= 8
    findings = lint_migrations(migrations)
    errors = [f"{f.location()} {f.rule} {f.message}" for f in findings if f.severity == "error"]
    assert errors == []
    # the advice rules still speak (Prisma's SERIAL / TIMESTAMP(3) defaults), as warnings
    assert {"prefer-identity", "prefer-timestamptz"} <= {f.rule for f in findings}


def test_safe_corpus_files_alone_have_no_errors_but_the_ones_touching_existing_tables() -> None:
    # Linted alone (earlier migrations applied), a file that only creates tables stays clean.
    init = _migrations(CORPUS / "migrations")[0]
    assert [f for f in lint_migrations([init]) if f.severity == "error"] == []


@pytest.mark.parametrize("path", sorted((CORPUS / "unsafe").glob("*/migration.sql")), ids=lambda p: p.parent.name)
def test_unsafe_migration_gets_exactly_the_expected_errors(path: Path) -> None:
    sql = path.read_text()
    expected = {code.strip() for code in re.search(r"-- expect: (.*)", sql).group(1).split(",")}
    migration = Migration(name=path.parent.name, path=path, sql=sql, checksum="")
    errors = {f.rule for f in lint_migrations([migration]) if f.severity == "error"}
    assert errors == expected


def test_unsafe_changes_on_tables_created_by_earlier_pending_migrations_are_fine() -> None:
    pending = _migrations(CORPUS / "migrations") + _migrations(CORPUS / "unsafe")[:4]
    errors = [f for f in lint_migrations(pending) if f.severity == "error"]
    assert errors == []
