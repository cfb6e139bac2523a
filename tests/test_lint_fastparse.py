"""The unvalidated fast parse builds exactly the AST pglast's validated parse builds."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import pglast
from pglast import ast

from migration_guard.tasks.lint.fastparse import unvalidated_nodes

ROOT = Path(__file__).parent.parent
sys.path.insert(0, str(ROOT / "bench"))
from lint_speed import generate  # noqa: E402


def _corpus() -> list[str]:
    texts = [generate(240)]
    texts += [p.read_text() for p in sorted((Path(__file__).parent / "data" / "prisma_corpus").rglob("migration.sql"))]
    for module_path in sorted(Path(__file__).parent.glob("test_lint_rule_*.py")):
        module = importlib.import_module(f"tests.{module_path.stem}")
        texts += [sql for sql in module.BAD + module.GOOD if "\x00" not in sql]
    texts.append(
        "CREATE TABLE t (id bigint GENERATED ALWAYS AS IDENTITY, c char(2), g int GENERATED ALWAYS AS (id * 2) STORED);"
        "ALTER TABLE t ALTER COLUMN c TYPE text USING c::text, DROP COLUMN g CASCADE;"
        "BEGIN; SAVEPOINT a; ROLLBACK TO a; COMMIT; VACUUM (FULL, ANALYZE) t; REINDEX (CONCURRENTLY) TABLE t;"
        "SELECT 1.5, 'x'::text, E'\\\\n', B'101', NULL, true, false, -1, 1e10 FROM t WHERE id IN (1, 2) FOR UPDATE;"
        "CREATE TYPE mood AS ENUM ('a'); ALTER TYPE mood ADD VALUE IF NOT EXISTS 'b' AFTER 'a';"
    )
    return texts


def test_fast_and_validated_parse_build_identical_trees() -> None:
    texts = _corpus()
    assert len(texts) > 100
    for text in texts:
        try:
            validated = pglast.parse_sql(text)
        except pglast.parser.ParseError:
            continue
        with unvalidated_nodes():
            fast = pglast.parse_sql(text)
        assert repr(fast) == repr(validated)
        assert fast == validated
        assert [s.stmt_location for s in fast] == [s.stmt_location for s in validated]


def test_validation_is_restored_afterwards_even_when_nested() -> None:
    with unvalidated_nodes():
        with unvalidated_nodes():
            pass
        assert ast.Node.__setattr__ is object.__setattr__  # still inside the outer block
    node = ast.RangeVar()
    try:
        node.inh = "not a bool"
    except ValueError:
        return
    raise AssertionError("pglast validation was not restored")
