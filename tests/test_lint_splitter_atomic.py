"""split_statements' fallback splitter keeps SQL-standard function bodies (BEGIN ATOMIC ... END) whole."""

from migration_guard.tasks.lint import lint_text
from migration_guard.tasks.sql.statements import split_statements

BODY = (
    "CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT CASE WHEN true THEN 1 END; SELECT 2; END;\n"
)


def test_begin_atomic_body_is_one_statement_when_the_file_has_a_syntax_error() -> None:
    statements = split_statements(BODY + "SELEC 1;\nBEGIN;\nCOMMIT;")
    assert [s.text.split()[0] for s in statements] == ["CREATE", "SELEC", "BEGIN", "COMMIT"]
    assert statements[0].error is None and statements[0].text.endswith("END")
    assert [s.error is not None for s in statements] == [False, True, False, False]


def test_linting_such_a_file_reports_only_the_real_syntax_error() -> None:
    findings = lint_text(BODY + "SELEC 1;\nDROP TABLE w;")
    once_per_file = {"missing-lock-timeout", "require-statement-timeout", "prefer-robust-stmts"}
    assert sorted(f.rule for f in findings if f.rule not in once_per_file) == ["ban-drop-table", "syntax-error"]
