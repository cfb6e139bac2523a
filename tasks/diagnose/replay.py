"""Diagnosis by replay: how many statements of a failed migration ran, found by running them in a
shadow database and matching the live schema to one prefix (plain logic + the shadow's I/O).

The shadow holds the schema the earlier migrations produce; the failed migration's statements run
there one at a time (autocommit; on empty tables data-dependent statements succeed), and after each
a *fingerprint* of the objects the migration touches is taken (one query: columns with type,
nullability and default; constraints with validation; indexes with validity; enum labels;
functions; triggers). The live database's fingerprint equals the fingerprint after some prefix:
that is how many statements ran. Statements with no schema effect (DML) make neighbouring prefixes
look alike; the ledger's logs decide between them (the statement they name, or the one statement
that can raise the constraint they name); what they cannot decide stays ``unknown``.

This gets right what reading the catalog alone cannot: objects that pre-existed, objects the
migration touches twice (DROP then re-ADD, ADD COLUMN then SET NOT NULL, CREATE TABLE then DROP
COLUMN), and INVALID indexes a failed non-transactional build left.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field, replace

import psycopg
from pglast import ast
from pglast.visitors import Visitor

from migration_guard.tasks.diagnose.effects import EffectChecker
from migration_guard.tasks.diagnose.logs import failing_statement_from_logs
from migration_guard.tasks.diagnose.model import CommandCheck, Diagnosis, Effect, StatementDiagnosis
from migration_guard.tasks.schema.model import SchemaSnapshot
from migration_guard.tasks.sql.statements import Statement

#: one query: the state of every object named in %(names)s, as (key, description) rows
_FINGERPRINT = """
WITH ns AS (SELECT oid FROM pg_namespace WHERE nspname = %(schema)s),
rels AS (SELECT c.oid, c.relname, c.relkind FROM pg_class c
         WHERE c.relnamespace = (SELECT oid FROM ns) AND c.relname = ANY(%(names)s))
SELECT 'rel:' || r.relname, r.relkind::text || ' ' || coalesce((
    SELECT string_agg(a.attname || ' ' || format_type(a.atttypid, a.atttypmod)
                      || CASE WHEN a.attnotnull THEN ' NOT NULL' ELSE '' END
                      || coalesce(' DEFAULT ' || pg_get_expr(d.adbin, d.adrelid), ''), ', ' ORDER BY a.attname)
    FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
    WHERE a.attrelid = r.oid AND a.attnum > 0 AND NOT a.attisdropped), '')
FROM rels r WHERE r.relkind <> 'i'
UNION ALL
SELECT 'con:' || t.relname || '.' || co.conname,
       pg_get_constraintdef(co.oid) || CASE WHEN co.convalidated THEN '' ELSE ' NOT VALID' END
FROM pg_constraint co JOIN pg_class t ON t.oid = co.conrelid
WHERE co.oid IN (SELECT x.oid FROM pg_constraint x WHERE x.conrelid IN (SELECT oid FROM rels)
                 UNION SELECT x.oid FROM pg_constraint x WHERE x.conname = ANY(%(names)s)
                 AND x.connamespace = (SELECT oid FROM ns) AND x.conrelid <> 0)
UNION ALL
SELECT 'idx:' || tc.relname || '.' || ic.relname,
       pg_get_indexdef(i.indexrelid) || CASE WHEN i.indisvalid THEN '' ELSE ' INVALID' END
FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid JOIN pg_class tc ON tc.oid = i.indrelid
WHERE i.indexrelid IN (SELECT x.indexrelid FROM pg_index x WHERE x.indrelid IN (SELECT oid FROM rels)
                       UNION SELECT oid FROM rels WHERE relkind = 'i')
UNION ALL
SELECT 'type:' || t.typname, t.typtype::text || ' ' || coalesce((
    SELECT string_agg(e.enumlabel, ',' ORDER BY e.enumsortorder) FROM pg_enum e WHERE e.enumtypid = t.oid), '')
FROM pg_type t WHERE t.typname = ANY(%(names)s) AND t.typnamespace = (SELECT oid FROM ns) AND t.typtype IN ('e', 'd')
UNION ALL
SELECT 'fn:' || p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ')', md5(p.prosrc)
FROM pg_proc p WHERE p.proname = ANY(%(names)s) AND p.pronamespace = (SELECT oid FROM ns)
UNION ALL
SELECT 'trg:' || t.relname || '.' || g.tgname, pg_get_triggerdef(g.oid)
FROM pg_trigger g JOIN pg_class t ON t.oid = g.tgrelid
WHERE NOT g.tgisinternal AND g.tgrelid IN (SELECT oid FROM rels)
UNION ALL
SELECT 'ext:' || extname, '' FROM pg_extension WHERE extname = ANY(%(names)s)
"""

#: the names an error message quotes: constraint "X", index "X", Prisma's harness "... failed: X"
_QUOTED_NAMES = re.compile(r'(?:constraint|index|relation|column|type)\s+"([^"]+)"'
                           r'|constraint failed(?: on the constraint)?:\s*`?([\w$]+)`?', re.IGNORECASE)

Fingerprint = frozenset[tuple[str, str]]


def fingerprint(conn: psycopg.Connection, schema: str, names: list[str]) -> Fingerprint:
    """The state of the objects named ``names`` in ``schema`` (one query)."""
    rows = conn.execute(_FINGERPRINT, {"schema": schema, "names": names}).fetchall()
    return frozenset((key, value) for key, value in rows)


def touched_names(statements: list[Statement]) -> list[str]:
    """Every relation, index, constraint, type, function and trigger name the statements mention."""
    found: set[str] = set()
    collector = _NameCollector(found)
    for statement in statements:
        if statement.node is not None:
            collector(statement.node)
    return sorted(found)


class _NameCollector(Visitor):
    def __init__(self, found: set[str]) -> None:
        super().__init__()
        self.found = found

    def visit_RangeVar(self, ancestors, node) -> None:  # noqa: N802 (pglast's visitor naming)
        self.found.add(node.relname)

    def visit_IndexStmt(self, ancestors, node) -> None:  # noqa: N802
        if node.idxname:
            self.found.add(node.idxname)

    def visit_Constraint(self, ancestors, node) -> None:  # noqa: N802
        if node.conname:
            self.found.add(node.conname)
        if node.indexname:
            self.found.add(node.indexname)

    def visit_RenameStmt(self, ancestors, node) -> None:  # noqa: N802
        if node.newname:
            self.found.add(node.newname)
        if node.subname:
            self.found.add(node.subname)
        if isinstance(node.object, tuple | list):
            self._strings(node.object)
        elif node.object is not None:
            self._strings([node.object])

    def visit_DropStmt(self, ancestors, node) -> None:  # noqa: N802
        for item in node.objects or ():
            self._strings(item if isinstance(item, tuple | list) else [item])

    def visit_TypeName(self, ancestors, node) -> None:  # noqa: N802
        self._strings(node.names or ())

    def visit_CreateEnumStmt(self, ancestors, node) -> None:  # noqa: N802
        self._strings(node.typeName or ())

    def visit_AlterEnumStmt(self, ancestors, node) -> None:  # noqa: N802
        self._strings(node.typeName or ())

    def visit_CreateFunctionStmt(self, ancestors, node) -> None:  # noqa: N802
        self._strings(node.funcname or ())

    def visit_CreateTrigStmt(self, ancestors, node) -> None:  # noqa: N802
        if node.trigname:
            self.found.add(node.trigname)

    def visit_CreateExtensionStmt(self, ancestors, node) -> None:  # noqa: N802
        self.found.add(node.extname)

    def visit_AlterTableCmd(self, ancestors, node) -> None:  # noqa: N802
        if node.name:
            self.found.add(node.name)

    def _strings(self, items) -> None:
        for item in items:
            if isinstance(item, ast.String):
                self.found.add(item.sval)
            elif isinstance(item, ast.TypeName):
                self._strings(item.names or ())
            elif isinstance(item, tuple | list):
                self._strings(item)


def statement_names(statement: Statement) -> set[str] | None:
    """The names one statement can change, or None when its effects can reach objects it does not
    name (CASCADE, DO blocks, SELECT / CALL of functions that may run DDL)."""
    node = statement.node
    if node is None or isinstance(node, ast.DoStmt | ast.SelectStmt | ast.CallStmt | ast.CreateFunctionStmt):
        return None if not isinstance(node, ast.CreateFunctionStmt) else set(touched_names([statement]))
    if _cascades(node):
        return None
    return set(touched_names([statement]))


def _cascades(node: object) -> bool:
    from pglast import enums

    if getattr(node, "behavior", None) == enums.DropBehavior.DROP_CASCADE:
        return True
    for cmd in getattr(node, "cmds", None) or ():
        if getattr(cmd, "behavior", None) == enums.DropBehavior.DROP_CASCADE:
            return True
    return False


def _key_names(key: str) -> list[str]:
    """The names a fingerprint key is about (``con:table.name`` -> table, name; ``fn:f(int)`` -> f)."""
    _, _, rest = key.partition(":")
    return rest.split("(", 1)[0].split(".")


class _State:
    """A fingerprint kept as a dict with a name index, compared with the live one incrementally."""

    def __init__(self, live: Fingerprint, ignored: set[str]) -> None:
        self.ignored = ignored
        self.live = {k: v for k, v in live if k not in ignored}
        self.live_by_name = self._index(self.live)
        self.current: dict[str, str] = {}
        self.by_name: dict[str, set[str]] = {}
        self.mismatch: set[str] = set(self.live)

    @staticmethod
    def _index(items: dict[str, str]) -> dict[str, set[str]]:
        index: dict[str, set[str]] = {}
        for key in items:
            for name in _key_names(key):
                index.setdefault(name, set()).add(key)
        return index

    def replace(self, names: set[str] | None, rows: Fingerprint) -> None:
        """Replace what is known about ``names`` (None: everything) with ``rows``."""
        if names is None:
            old = set(self.current)
            affected_live = set(self.live)
        else:
            old = set().union(*(self.by_name.get(n, set()) for n in names))
            affected_live = set().union(*(self.live_by_name.get(n, set()) for n in names))
        for key in old:
            del self.current[key]
            for name in _key_names(key):
                self.by_name[name].discard(key)
        new = {k: v for k, v in rows if k not in self.ignored}
        for key, value in new.items():
            self.current[key] = value
            for name in _key_names(key):
                self.by_name.setdefault(name, set()).add(key)
        for key in old | set(new) | affected_live:
            if self.current.get(key) == self.live.get(key):
                self.mismatch.discard(key)
            else:
                self.mismatch.add(key)

    def copy(self) -> _State:
        """A copy to come back to (:meth:`restore`)."""
        other = object.__new__(_State)
        other.ignored, other.live, other.live_by_name = self.ignored, self.live, self.live_by_name
        other.current = dict(self.current)
        other.by_name = {name: set(keys) for name, keys in self.by_name.items()}
        other.mismatch = set(self.mismatch)
        return other

    def restore(self, saved: _State) -> None:
        """Go back to a state saved with :meth:`copy`."""
        self.current = dict(saved.current)
        self.by_name = {name: set(keys) for name, keys in saved.by_name.items()}
        self.mismatch = set(saved.mismatch)

    @property
    def matches(self) -> bool:
        """True when the state equals the live one (ignored keys aside)."""
        return not self.mismatch


@dataclass
class Replay:
    """What running the migration in the shadow database gave.

    Attributes:
        matching: the prefix lengths k whose state (the first k statements run) equals the live one.
        replayed: how many statements ran in the shadow.
        failed_at: index of the statement that failed in the shadow too (then prefixes stop there).
        owners: constraint / index name -> (table, referenced table or None) in the shadow, for
            telling which statement an error about that name came from.
    """

    matching: list[int] = field(default_factory=list)
    replayed: int = 0
    failed_at: int | None = None
    shadow_error: str = ""
    owners: dict[str, tuple[str, str | None]] = field(default_factory=dict)
    seconds: float = 0.0


_OWNERS = """
SELECT co.conname, t.relname, r.relname FROM pg_constraint co JOIN pg_class t ON t.oid = co.conrelid
JOIN pg_namespace n ON n.oid = t.relnamespace LEFT JOIN pg_class r ON r.oid = co.confrelid WHERE n.nspname = %(schema)s
UNION ALL
SELECT ic.relname, tc.relname, NULL FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid
JOIN pg_class tc ON tc.oid = i.indrelid JOIN pg_namespace n ON n.oid = ic.relnamespace
WHERE n.nspname = %(schema)s AND i.indisunique
"""


def live_ignored(live: Fingerprint) -> set[str]:
    """Keys left out of the comparison: INVALID indexes a failed non-transactional build left live."""
    return {key for key, value in live if key.startswith("idx:") and value.endswith(" INVALID")}


#: statements run together in one round trip, before one fingerprint of what they changed
BLOCK = 64

_SAVEPOINT = "mg_replay_block"


def replay_statements(shadow: psycopg.Connection, statements: list[Statement], schema: str,
                      names: list[str], live: Fingerprint, *, block: int = BLOCK) -> Replay:
    """Run ``statements`` in the shadow and record after which prefixes its state equals ``live``
    (the fingerprint of ``names`` in the live database).

    The transactional statements run in blocks of up to ``block`` in one round trip (one
    multi-statement string of the migration's own statements, behind a savepoint), then one
    fingerprint of the names the block changed gives the state after the block. A prefix inside
    the block can only match when every object that differs from the live one before the block is
    changed by a statement before it, and every object that differs after the block is changed
    by a statement after it; when some prefix inside passes that test (or a statement failed) the
    block is rolled back to its savepoint and replayed as two halves, down to single statements,
    each fingerprinted. The prefixes found are exactly those statement-by-statement replay finds
    (``block=1`` is that replay). Non-transactional statements run alone, outside the transaction.
    """
    started = time.perf_counter()
    shadow.execute("SET synchronous_commit TO off")  # a disposable database: commits need not wait for disk
    state = _State(live, live_ignored(live))
    state.replace(None, fingerprint(shadow, schema, names))
    replay = Replay(matching=[0] if state.matches else [])
    owners: dict[str, tuple[str, str | None]] = {}

    def collect_owners() -> None:
        for name, table, referenced in shadow.execute(_OWNERS, {"schema": schema}).fetchall():
            owners.setdefault(name, (table, referenced))

    collect_owners()
    runner = _BlockReplay(shadow, schema, names, state, replay)
    for segment in _segments(statements):
        if _runs_alone(segment[0]):
            ok = runner.alone(segment[0], in_transaction=False)
        else:
            ok = all(runner.run(segment[i:i + max(1, block)]) for i in range(0, len(segment), max(1, block)))
        if not ok:
            break
    runner.finish()
    collect_owners()
    replay.owners = owners
    replay.seconds = time.perf_counter() - started
    return replay


def _runs_alone(statement: Statement) -> bool:
    """True for a statement replayed alone in autocommit: a non-transactional one, ``ALTER TYPE ...
    ADD VALUE`` (committed before a later statement may use the label) and ``COPY``."""
    return not statement.transactional or isinstance(statement.node, ast.AlterEnumStmt | ast.CopyStmt)


def _segments(statements: list[Statement]) -> list[list[Statement]]:
    """Runs of statements that replay inside one transaction, and each statement that runs alone."""
    segments: list[list[Statement]] = []
    for statement in statements:
        if _runs_alone(statement) or not segments or _runs_alone(segments[-1][0]):
            segments.append([statement])
        else:
            segments[-1].append(statement)
    return segments


class _BlockReplay:
    """Replays blocks of transactional statements in one transaction (see :func:`replay_statements`)."""

    def __init__(self, shadow: psycopg.Connection, schema: str, names: list[str], state: _State,
                 replay: Replay) -> None:
        self.shadow, self.schema, self.names, self.state, self.replay = shadow, schema, names, state, replay
        self.in_transaction = False
        self.savepoints = 0  # open savepoints of finished blocks, released with the next block's string
        self.changes: dict[int, set[str] | None] = {}  # statement index -> statement_names (parsed once)

    def names_of(self, statement: Statement) -> set[str] | None:
        """:func:`statement_names` of ``statement``, computed once."""
        if statement.index not in self.changes:
            self.changes[statement.index] = statement_names(statement)
        return self.changes[statement.index]

    def _changed(self, statements: list[Statement]) -> set[str] | None:
        found: set[str] = set()
        for statement in statements:
            names = self.names_of(statement)
            if names is None:
                return None
            found |= names
        return found

    def _fingerprint(self, changed: set[str] | None) -> None:
        self.state.replace(changed, fingerprint(self.shadow, self.schema,
                                                self.names if changed is None else sorted(changed)))

    def _ran(self, count: int) -> None:
        self.replay.replayed += count
        if self.state.matches:
            self.replay.matching.append(self.replay.replayed)

    def alone(self, statement: Statement, *, in_transaction: bool) -> bool:
        """Run one statement and fingerprint what it changed; False when it failed."""
        try:
            if not in_transaction and self.in_transaction:
                self.shadow.execute("COMMIT")
                self.in_transaction, self.savepoints = False, 0
            elif in_transaction and not self.in_transaction:
                self.shadow.execute("BEGIN")
                self.in_transaction = True
            self.shadow.execute(statement.text)
        except psycopg.Error as exc:
            self.replay.failed_at = statement.index
            self.replay.shadow_error = exc.diag.message_primary or str(exc)
            return False
        self._fingerprint(self.names_of(statement))
        self._ran(1)
        return True

    def run(self, statements: list[Statement]) -> bool:
        """Replay a block of transactional statements (halving it where needed); False when one failed."""
        if len(statements) == 1:
            return self.alone(statements[0], in_transaction=True)
        if not self.in_transaction:
            self.shadow.execute("BEGIN")
            self.in_transaction = True
        before = self.state.copy()
        release = "".join(f"RELEASE SAVEPOINT {_SAVEPOINT};\n" for _ in range(self.savepoints))
        self.savepoints = 0
        script = release + f"SAVEPOINT {_SAVEPOINT};\n" + "\n;\n".join(s.text for s in statements)
        try:
            self.shadow.execute(script)
            failed = False
        except psycopg.Error:
            failed = True
        if not failed:
            self.savepoints = 1
            changed = self._changed(statements)
            self._fingerprint(changed)
            if not _may_match_inside([self.names_of(s) for s in statements], before, self.state):
                self._ran(len(statements))
                return True
        self.shadow.execute(f"ROLLBACK TO SAVEPOINT {_SAVEPOINT}")
        self.shadow.execute(f"RELEASE SAVEPOINT {_SAVEPOINT}")
        self.savepoints = 0
        self.state.restore(before)
        half = len(statements) // 2
        return self.run(statements[:half]) and self.run(statements[half:])

    def finish(self) -> None:
        """End the open transaction: rolled back after a failure, else committed."""
        if self.in_transaction:
            self.shadow.execute("ROLLBACK" if self.replay.failed_at is not None else "COMMIT")
            self.in_transaction = False


def _may_match_inside(changes: list[set[str] | None], before: _State, after: _State) -> bool:
    """True when a prefix strictly inside the block could equal the live state: every key that
    differs before the block is changed by a statement before that prefix, and every key that
    differs after the block by a statement after it (a key changes only with a statement naming
    one of its names, or one whose effects can reach anything)."""
    touches: dict[str, list[int]] = {}
    anything: list[int] = []
    for offset, names in enumerate(changes):
        if names is None:
            anything.append(offset)
            continue
        for name in names:
            touches.setdefault(name, []).append(offset)
    size = len(changes)
    lowest, highest = 1, size - 1  # the prefix lengths inside the block still possible
    for key in before.mismatch:
        offsets = [o for name in _key_names(key) for o in touches.get(name, ())] + anything
        if not offsets:
            return False
        lowest = max(lowest, min(offsets) + 1)
        if lowest > highest:
            return False
    for key in after.mismatch:
        offsets = [o for name in _key_names(key) for o in touches.get(name, ())] + anything
        if not offsets:
            return False
        highest = min(highest, max(offsets))
        if lowest > highest:
            return False
    return True


def diagnose_by_replay(statements: list[Statement], name: str, live: Fingerprint, replay: Replay,
                       snapshot: SchemaSnapshot, *, schema: str = "public", logs: str | None = None
                       ) -> Diagnosis | None:
    """The diagnosis from the prefix the live fingerprint matches, or None when it matches none
    (the caller then falls back to reading the catalog).

    Args:
        statements: the migration's statements (transaction control left out), indexed 0..n-1.
        live: the live database's fingerprint of the same names.
        replay: the shadow's fingerprints after each prefix.
        snapshot: the live catalog (for the names of what done statements made, for undo).
        logs: the failed ledger row's logs (name the failing statement among look-alike prefixes).
    """
    invalid = live_ignored(live)
    matches = replay.matching
    if not matches:
        return None
    named = _named_failing(statements, logs, matches, replay, snapshot, schema)
    if named is None:  # a build that left an INVALID index failed there, whatever the logs say
        named = next((k for k in matches if k < len(statements) and _left_invalid(statements[k], invalid)), None)
    logged = failing_statement_from_logs(statements, logs)
    rolled_back = named is None and matches == [0] and logged is not None and logged > 0
    if named is not None:
        ran_low = ran_high = named
    else:
        ran_low, ran_high = matches[0], matches[-1]
        if not _contiguous(matches):
            return None
        while ran_low < ran_high and _no_lasting_effect(statements[ran_low].node):
            ran_low += 1  # a SET in the window ran or not: either way nothing of it is left to do or undo
    checker = EffectChecker(snapshot, schema)
    total = len(statements)
    if rolled_back:
        failing: int | None = logged
    elif ran_high > ran_low or ran_high >= total:
        failing = None  # somewhere in a window of look-alike prefixes (not guessed), or everything ran
    else:
        failing = ran_high
    result: list[StatementDiagnosis] = []
    for s in statements:
        if s.index < ran_low:
            result.append(_done(checker.check(s), f"ran (replay: the live schema matches the state after "
                                                 f"statement {ran_low})"))
        elif s.index < ran_high:
            result.append(_as(s, Effect.UNKNOWN, "the replay cannot tell whether it ran (no schema effect) and the "
                                                 "logs do not say"))
        elif s.index == failing:
            result.append(_failing(checker.check(s), s, invalid, named is not None or rolled_back))
        elif rolled_back and s.index < logged:
            result.append(_as(s, Effect.NOT_DONE, "rolled back with the whole migration (replay: the live schema "
                                                  "is as before it)"))
        elif failing is not None and s.index > failing:
            result.append(_as(s, Effect.NOT_DONE, f"after the failing statement {failing + 1}: never ran (replay)"))
        else:
            result.append(_as(s, Effect.NOT_DONE, "its effect is absent (replay)"))
    source = "ledger logs" if named is not None or rolled_back else "replay"
    return Diagnosis(migration=name, statements=result, failing_index=failing,
                     failing_source=source if failing is not None else "",
                     parse_errors=[f"line {s.error_line}: {s.error}" for s in statements if s.error])


def _no_lasting_effect(node: object) -> bool:
    return isinstance(node, ast.VariableSetStmt | ast.VariableShowStmt | ast.TransactionStmt)


def _contiguous(values: list[int]) -> bool:
    return values == list(range(values[0], values[-1] + 1))


def _done(verdict: StatementDiagnosis, reason: str) -> StatementDiagnosis:
    commands = tuple(CommandCheck(Effect.DONE, c.reason, c.resolved_name) for c in verdict.commands)
    return replace(verdict, effect=Effect.DONE, reason=reason, inferred=False, evidence=True, commands=commands,
                   invalid_index=None)


def _as(s: Statement, effect: Effect, reason: str) -> StatementDiagnosis:
    return StatementDiagnosis(index=s.index, line=s.line, text=s.text, kind=s.kind, effect=effect, reason=reason,
                              node=s.node, transactional=s.transactional,
                              session_setting=isinstance(s.node, ast.VariableSetStmt))


def _failing(verdict: StatementDiagnosis, s: Statement, invalid: set[str], named: bool) -> StatementDiagnosis:
    source = "named in the ledger's logs" if named else "the first statement whose effect is absent (replay)"
    if _left_invalid(s, invalid):
        return replace(verdict, effect=Effect.PARTLY_DONE, invalid_index=s.node.idxname,
                       reason=f"the failing statement ({source}); its failed build left the INVALID index "
                              f"{s.node.idxname}")
    return _as(s, Effect.NOT_DONE, f"the failing statement ({source}); a failed statement leaves no effect")


def _left_invalid(s: Statement, invalid: set[str]) -> bool:
    """True when ``s`` builds an index the live database holds INVALID (a failed build's leftover)."""
    node = s.node
    return isinstance(node, ast.IndexStmt) and bool(node.idxname) and \
        f"idx:{node.relation.relname}.{node.idxname}" in invalid


def _named_failing(statements: list[Statement], logs: str | None, matches: list[int], replay: Replay,
                   snapshot: SchemaSnapshot, schema: str) -> int | None:
    """The failing statement the logs name, when it is one of the matching prefixes' next statement.

    Among look-alike prefixes (the live ``snapshot`` is the state before each), an UPDATE that cannot
    violate a constraint is not the one that raised a constraint violation (class 23)."""
    from migration_guard.tasks.diagnose.rechecks import update_cannot_violate

    if not logs:
        return None
    candidates = set(matches)
    index = failing_statement_from_logs(statements, logs)
    if index is not None and index in candidates:
        return index
    names = {a or b for a, b in _QUOTED_NAMES.findall(logs)}
    raising = [k for k in sorted(candidates) if k < len(statements) and _can_raise(statements[k], names, replay)]
    if len(raising) == 1:
        return raising[0]
    category = _error_category(logs)
    if category is None:
        return None
    raising = [k for k in sorted(candidates) if k < len(statements) and _may_raise(statements[k].node, category)
               and not (category.startswith("23") and isinstance(statements[k].node, ast.UpdateStmt)
                        and update_cannot_violate(statements[k].node, snapshot, schema))]
    return raising[0] if len(raising) == 1 else None


#: the data error a log reports (SQLSTATE, or the message Prisma's harness writes)
_CATEGORIES = (
    ("23502", ("23502", "null constraint failed", "contains null values", "violates not-null")),
    ("23505", ("23505", "unique constraint failed", "duplicate key", "could not create unique index")),
    ("23503", ("23503", "foreign key constraint failed", "violates foreign key")),
    ("23514", ("23514", "is violated by some row", "violates check constraint")),
    ("22", ("22P02", "22003", "22001", "invalidinputvalue", "invalid input")),
)


def _error_category(logs: str) -> str | None:
    text = logs.lower()
    return next((code for code, needles in _CATEGORIES if any(n.lower() in text for n in needles)), None)


def _may_raise(node: object, category: str) -> bool:
    """True when a statement of this kind can raise a data error of ``category``."""
    if isinstance(node, ast.InsertStmt | ast.UpdateStmt):
        return True
    if isinstance(node, ast.DeleteStmt):
        return category == "23503"
    if isinstance(node, ast.IndexStmt):
        return category == "23505" and bool(node.unique)
    if not isinstance(node, ast.AlterTableStmt):
        return False
    for cmd in node.cmds or ():
        definition = cmd.def_
        subtype = cmd.subtype.name
        if category == "23502" and subtype in ("AT_AddColumn", "AT_SetNotNull"):
            return True
        if category == "22" and subtype == "AT_AlterColumnType":
            return True
        if isinstance(definition, ast.Constraint) and subtype == "AT_AddConstraint":
            kind = definition.contype.name
            if (category, kind) in (("23505", "CONSTR_UNIQUE"), ("23505", "CONSTR_PRIMARY"), ("23503", "CONSTR_FOREIGN"),
                                    ("23514", "CONSTR_CHECK"), ("23502", "CONSTR_PRIMARY")):
                return True
    return False


def _can_raise(statement: Statement, names: set[str], replay: Replay) -> bool:
    """True when ``statement`` can raise an error about one of ``names`` (a constraint or index of the
    table it writes, of a table referencing the one it deletes from, or one it creates)."""
    node = statement.node
    if node is None or not names:
        return False
    created = set(touched_names([statement]))
    if isinstance(node, ast.InsertStmt | ast.UpdateStmt):
        table = node.relation.relname
        return any(replay.owners.get(n, ("", None))[0] == table for n in names) or bool(names & created - {table})
    if isinstance(node, ast.DeleteStmt):
        table = node.relation.relname
        return any(replay.owners.get(n, ("", None))[1] == table for n in names)
    return bool(names & created)


def migration_statements(sql_text: str, name: str) -> list[Statement]:
    """The statements a diagnosis lists: transaction control left out, indexed 0..n-1."""
    from migration_guard.tasks.sql.statements import split_statements

    statements = [s for s in split_statements(sql_text, name) if not s.is_transaction_control]
    return [s if s.index == i else replace(s, index=i) for i, s in enumerate(statements)]


def replay_diagnosis(project, migration, live: psycopg.Connection, snapshot: SchemaSnapshot,
                     logs: str | None) -> tuple[Diagnosis | None, str]:
    """(diagnosis, note): diagnose ``migration`` (a failed one) by replay in a shadow database built
    from the applied migrations before it; (None, why) when the shadow cannot be built, the earlier
    migrations do not replay, or the live schema matches no prefix.

    Args:
        project: the :class:`~migration_guard.tasks.project.Project`.
        migration: the failed :class:`~migration_guard.tasks.models.Migration` (its local file).
        live: a connection to the live database (only read).
        snapshot: the live catalog.
        logs: the failed ledger row's logs.
    """
    from migration_guard.tasks.db import connect
    from migration_guard.tasks.errors import MigrationGuardError
    from migration_guard.tasks.schema.drift import applied_migrations
    from migration_guard.tasks.schema.shadow import apply_migrations, shadow_database, shadow_url_setting

    started = time.perf_counter()
    statements = migration_statements(migration.sql, migration.name)
    if any(s.node is None for s in statements):
        return None, "the migration does not parse: the replay cannot run it"
    earlier, missing = applied_migrations(project)
    if missing:
        return None, f"applied migrations missing locally: {', '.join(missing)}"
    earlier = [m for m in earlier if m.name < migration.name]
    names = touched_names(statements)
    live_print = fingerprint(live, project.schema, names)
    try:
        with shadow_database(project.dsn, shadow_url_setting(project), project.schema) as (shadow_dsn, label):
            with connect(shadow_dsn, connect_timeout=project.settings.connect_timeout) as shadow:
                apply_migrations(shadow, earlier, project.schema)
                replay = replay_statements(shadow, statements, project.schema, names, live_print)
    except MigrationGuardError as exc:
        return None, exc.message
    diagnosis = diagnose_by_replay(statements, migration.name, live_print, replay, snapshot,
                                   schema=project.schema, logs=logs)
    if diagnosis is None:
        where = f" (the replay itself failed at statement {replay.failed_at + 1}: {replay.shadow_error})" \
            if replay.failed_at is not None else ""
        return None, f"the live schema matches no prefix of the replay{where}"
    diagnosis.method = "replay"
    diagnosis.note = (f"replayed {len(earlier)} earlier migration(s) and {replay.replayed} statement(s) "
                      f"in a {label}")
    diagnosis.seconds = time.perf_counter() - started
    return diagnosis, diagnosis.note
