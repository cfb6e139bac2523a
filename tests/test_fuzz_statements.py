"""Fuzzing the SQL splitter with generated SQL: it never crashes and its spans stay consistent."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from migration_guard.tasks.sql.statements import split_statements

FRAGMENTS = [
    "CREATE TABLE t (id int)", "ALTER TABLE t ADD COLUMN c text", "CREATE INDEX CONCURRENTLY i ON t (c)",
    "DO $$ BEGIN PERFORM 1; END $$", "SELECT 'a;b'", "SELECT $x$;$x$", "-- comment ;\n", "/* c ; */",
    "BEGIN", "COMMIT", "SELEC 1", "'unterminated", "$$", ";", "\n", " ", "é", '"weird ""name"""',
    "INSERT INTO \"DROP TABLE x; --\" VALUES (1)", "(", ")",
]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(FRAGMENTS), max_size=12).map(";".join))
def test_splitter_never_crashes_on_sql_like_text(text: str) -> None:
    statements = split_statements(text)
    for statement in statements:
        assert 0 <= statement.start < statement.end <= len(text)
        assert text[statement.start : statement.end] == statement.text
        assert statement.line >= 1 and statement.column >= 1
        assert (statement.node is None) == (statement.error is not None)
    starts = [s.start for s in statements]
    assert starts == sorted(starts)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_splitter_never_crashes_on_arbitrary_text(text: str) -> None:
    for statement in split_statements(text):
        assert text[statement.start : statement.end] == statement.text
