"""The lint engine: positions, new tables, suppressions, PL/pgSQL, bad input, configuration."""

from __future__ import annotations

from pathlib import Path

import pytest

from migration_guard.tasks.errors import ConfigError
from migration_guard.tasks.lint import LintConfig, LintContext, has_errors, lint_migrations, lint_text, load_config, parse_config
from migration_guard.tasks.lint.files import read_sql
from migration_guard.tasks.lint.registry import RULE_MODULES, all_rules
from migration_guard.tasks.models import Migration


#: missing-lock-timeout / require-statement-timeout (info) fire once per file on most examples here, and
#: prefer-robust-stmts on every multi-statement example (no runner given, no BEGIN); these tests look at the rest.
ONCE_PER_FILE = "missing-lock-timeout,require-statement-timeout,prefer-robust-stmts"
QUIET = parse_config(ONCE_PER_FILE)


def lint(sql: str, *args, **kwargs):
    kwargs.setdefault("config", QUIET)
    return lint_text(sql, *args, **kwargs)


def rules(sql: str, **kwargs) -> list[str]:
    return [f.rule for f in lint(sql, **kwargs)]


def test_every_rule_is_registered_once_with_an_explanation() -> None:
    codes = [r.code for r in all_rules()]
    assert len(codes) == len(set(codes)) == len(RULE_MODULES) >= 35
    for rule in all_rules():
        assert rule.problem and rule.fix and rule.summary and rule.severity in ("error", "warning", "info")


def test_finding_carries_span_statement_index_and_dict() -> None:
    sql = "CREATE TABLE a (id bigint);\n\n  CREATE INDEX i ON t\n  (a);\n"
    [finding] = lint(sql, "m.sql")
    assert (finding.line, finding.column, finding.end_line, finding.statement_index) == (3, 3, 4, 1)
    data = finding.to_dict()
    assert set(data) == {"rule", "severity", "message", "path", "line", "column", "end_line", "statement_index", "why", "fix",
                         "acknowledgement"}  # issue 19: blocking policy findings carry their acknowledgement
    assert data["path"] == "m.sql" and finding.location() == "m.sql:3:3"


def test_has_errors_and_strict() -> None:
    warnings_only = lint("ALTER TABLE t RENAME COLUMN a TO b;")
    assert warnings_only and not has_errors(warnings_only)
    assert has_errors(warnings_only, strict=True)
    assert has_errors(lint("DROP TABLE t;"))


def test_table_created_earlier_in_the_file_is_new() -> None:
    assert "require-concurrent-index-creation" in rules("CREATE INDEX i ON t (a);")
    assert rules('CREATE TABLE "T" (a int);\nCREATE INDEX i ON "T" (a);\nALTER TABLE "T" ALTER COLUMN a SET NOT NULL;') == []
    # quoting matters: "T" and t are different tables
    assert "require-concurrent-index-creation" in rules('CREATE TABLE "T" (a int);\nCREATE INDEX i ON t (a);')
    # schemas matter
    assert "require-concurrent-index-creation" in rules("CREATE TABLE app.t (a int);\nCREATE INDEX i ON t (a);")


def test_renamed_new_table_stays_new_and_default_schema_applies() -> None:
    assert rules("CREATE TABLE t1 (a int);\nALTER TABLE t1 RENAME TO t2;\nCREATE INDEX i ON t2 (a);") == []
    context = LintContext(default_schema="app")
    assert rules("CREATE TABLE app.t (a int);\nCREATE INDEX i ON t (a);", context=context) == []


def test_tables_created_by_earlier_pending_migrations_are_new(tmp_path: Path) -> None:
    first = Migration("1_init", tmp_path / "1.sql", "CREATE TABLE orders (id bigint, total int);", "")
    second = Migration("2_idx", tmp_path / "2.sql", "CREATE INDEX orders_total ON orders (total);", "")
    assert lint_migrations([first, second], config=QUIET) == []
    assert [f.rule for f in lint_migrations([second], config=QUIET)] == ["require-concurrent-index-creation"]


def test_statement_suppression_and_file_suppression() -> None:
    sql = "CREATE TABLE x (a int);\n-- migration-guard:ignore ban-drop-table unused since release 42\nDROP TABLE t;\nDROP TABLE u;"
    findings = lint(sql)
    assert [(f.rule, f.line) for f in findings] == [("ban-drop-table", 4)]
    header = "-- migration-guard:ignore ban-drop-table,ban-truncate cleanup release\n\nDROP TABLE t;\nTRUNCATE u;\nDROP TABLE v;"
    assert rules(header) == []


def test_trailing_suppression_applies_to_its_own_line() -> None:
    sql = "DROP TABLE t; -- migration-guard:ignore ban-drop-table release 42\nDROP TABLE u;\nDROP TABLE v; -- migration-guard:ignore ban-drop-table last"
    assert [(f.rule, f.line) for f in lint(sql)] == [("ban-drop-table", 2)]


def test_unknown_rule_in_suppression_is_a_finding_and_silences_nothing() -> None:
    findings = lint("-- migration-guard:ignore ban-drop-tabel typo\nDROP TABLE t;")
    assert sorted(f.rule for f in findings) == ["ban-drop-table", "unknown-suppression-rule"]
    unknown = next(f for f in findings if f.rule == "unknown-suppression-rule")
    assert "ban-drop-tabel" in unknown.message and unknown.line == 1


def test_do_block_statements_and_execute_literals_are_linted_at_their_line() -> None:
    sql = (
        "CREATE TABLE a (id bigint);\n"
        "DO $$\nBEGIN\n  IF true THEN\n    CREATE INDEX i ON orders (created_at);\n  END IF;\n"
        "  EXECUTE 'ALTER TABLE orders ADD COLUMN n int NOT NULL';\n  EXECUTE format('DROP TABLE %I', 'x');\nEND\n$$;\n"
    )
    findings = lint(sql)
    by_rule = {f.rule: f for f in findings}
    assert set(by_rule) == {"require-concurrent-index-creation", "adding-not-nullable-column"}
    assert by_rule["require-concurrent-index-creation"].line == 5
    assert by_rule["require-concurrent-index-creation"].message.startswith("in DO block:")
    assert by_rule["adding-not-nullable-column"].line == 7
    assert "(EXECUTE)" in by_rule["adding-not-nullable-column"].message
    assert all(f.statement_index == 1 for f in findings)


def test_function_bodies_are_linted_but_at_most_warnings() -> None:
    sql = (
        "CREATE OR REPLACE FUNCTION purge() RETURNS void LANGUAGE plpgsql AS $fn$\n"
        "BEGIN\n  TRUNCATE sessions;\n  EXECUTE 'DROP TABLE old_sessions';\nEND;\n$fn$;\n"
        "CREATE FUNCTION n() RETURNS int LANGUAGE sql AS $$ DELETE FROM audit; SELECT 1 $$;\n"
    )
    findings = lint(sql)
    assert {f.rule for f in findings} == {"ban-truncate", "ban-drop-table", "dml-without-where"}
    assert {f.severity for f in findings} == {"warning"}
    assert any("function purge" in f.message for f in findings)


def test_a_function_creating_a_table_does_not_make_it_new_now() -> None:
    sql = (
        "CREATE FUNCTION mk() RETURNS void LANGUAGE plpgsql AS $$ BEGIN CREATE TABLE t (a int); END $$;\n"
        "CREATE INDEX i ON t (a);"
    )
    assert "require-concurrent-index-creation" in rules(sql)
    assert rules("DO $$ BEGIN CREATE TABLE t (a int); END $$;\nCREATE INDEX i ON t (a);") == []


def test_prisma_file_is_one_implicit_transaction() -> None:
    sql = "ALTER TABLE a ADD COLUMN b int;\nCREATE INDEX CONCURRENTLY IF NOT EXISTS i ON a (b);"
    assert "concurrently-in-transaction" in rules(sql, context=LintContext(tool="prisma"))
    assert "concurrently-in-transaction" not in rules(sql, context=LintContext(tool="sql"))
    alone = "CREATE INDEX CONCURRENTLY IF NOT EXISTS i ON a (b);"
    assert rules(alone, context=LintContext(tool="prisma")) == []


@pytest.mark.parametrize(
    "text, rule, line",
    [
        ("", None, None),
        ("\n\n   -- nothing but a comment\n", None, None),
        ("SELECT 1;\x00\x7fELF\x02", "invalid-input", 1),
        ("CREATE TABLE t (id int);\nSELECT $$ never closed\n;\n", "syntax-error", 2),
        ("CREATE TABLE t (id int);\nDO $body$ BEGIN PERFORM 1; END $body;\n", "syntax-error", 2),
        ("SELECT 'unterminated", "syntax-error", 1),
        ("CREATE TABLE t (id int;\nSELECT 1;", "syntax-error", 1),
    ],
)
def test_bad_input_gives_findings_never_exceptions(text: str, rule: str | None, line: int | None) -> None:
    findings = lint(text, "bad.sql")
    if rule is None:
        assert findings == []
    else:
        assert [f.rule for f in findings] == [rule]
        assert findings[0].line == line


def test_non_utf8_and_binary_files_are_findings(tmp_path: Path) -> None:
    latin1 = tmp_path / "latin1.sql"
    latin1.write_bytes("SELECT 1;\nCOMMENT ON TABLE t IS 'caf\xe9';\n".encode("latin-1"))
    text, finding = read_sql(latin1)
    assert text is None and finding.rule == "invalid-input"
    assert (finding.line, finding.column) == (2, 27) and "0xe9" in finding.message
    text, finding = read_sql(tmp_path / "missing.sql")
    assert text is None and finding.rule == "invalid-input" and "cannot read" in finding.message


def test_ten_megabyte_file_is_linted() -> None:
    statements = "".join(f"ALTER TABLE orders ADD COLUMN note_{i} text;\n" for i in range(20_000))
    blob = "INSERT INTO documents (body) VALUES ('" + "x" * 9_500_000 + "');\n"
    sql = statements + blob + "TRUNCATE orders;\n"
    assert len(sql.encode()) > 10_000_000
    findings = lint(sql)
    assert [(f.rule, f.line) for f in findings] == [("ban-truncate", 20_002)]
    [finding] = lint(sql + "SELECT $$ unterminated\n")
    assert finding.rule == "syntax-error" and finding.line == 20_003


def test_config_disables_and_relevels() -> None:
    sql = "DROP TABLE t;\nALTER TABLE u RENAME COLUMN a TO b;"
    config = parse_config(f"renaming-column,{ONCE_PER_FILE}", "ban-drop-table=warning")
    findings = lint(sql, config=config)
    assert [(f.rule, f.severity) for f in findings] == [("ban-drop-table", "warning")]
    assert lint(sql, config=parse_config(ONCE_PER_FILE, {"ban-drop-table": "off", "renaming-column": "info"}))[0].severity == "info"


@pytest.mark.parametrize("disable, severity", [("no-such-rule", None), (None, "ban-drop-table=fatal"), (None, "ban-drop-table")])
def test_bad_config_is_a_config_error(disable, severity) -> None:
    with pytest.raises(ConfigError):
        parse_config(disable, severity)


def test_config_from_pyproject_then_environment(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[tool.migration-guard.lint]\ndisable = ["prefer-jsonb"]\nseverity = { ban-drop-table = "warning", prefer-identity = "off" }\n'
    )
    config = load_config(tmp_path, environ={"LINT_SEVERITY": "ban-drop-table=info,prefer-jsonb=error"})
    assert config.severities == {"ban-drop-table": "info", "prefer-jsonb": "error"}
    assert config.disabled == frozenset({"prefer-identity"})
    assert load_config(tmp_path / "nowhere", environ={}) == LintConfig()
    (tmp_path / "pyproject.toml").write_text("[tool.migration-guard.lint\n")
    with pytest.raises(ConfigError):
        load_config(tmp_path, environ={})
