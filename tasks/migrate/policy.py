"""Which validation findings stop safe-migrate, and which ones it handles itself (and why).

The validate suite judges the database as it is; safe-migrate knows how it will apply: it waits
(bounded) for the migration lock, runs non-transactional statements one by one outside a
transaction, ignores BEGIN/COMMIT written in a file, and resumes a migration it left midway
(dropping the INVALID index its interrupted ``CREATE INDEX CONCURRENTLY`` left). Those findings
are reported as handled instead of blocking. Keyed on the validate checks' and lint rules' own
names (their ``CHECK`` / ``RULE``), never on copies of them.
"""

from __future__ import annotations

from typing import Any

from migration_guard.tasks.lint.rules import concurrently_in_transaction, transaction_control
from migration_guard.tasks.migrate.apply import is_resumable, prepare_migration
from migration_guard.tasks.project import Project, read_ledger, read_migrations
from migration_guard.tasks.validate.checks import advisory_lock, invalid_indexes, ledger_state
from migration_guard.tasks.validate.checks import lint as lint_check
from migration_guard.tasks.validate.model import CheckStatus

LEDGER_CHECK = ledger_state.CHECK.name
INVALID_INDEXES_CHECK = invalid_indexes.CHECK.name
LINT_CHECK = lint_check.CHECK.name

#: validation checks that do not stop safe-migrate, and why
HANDLED_CHECKS: dict[str, str] = {
    advisory_lock.CHECK.name: "the migration lock is waited for (bounded) by the apply step, which names the holder",
}
#: lint rules whose danger safe-migrate removes by how it applies
HANDLED_LINT_RULES: dict[str, str] = {
    concurrently_in_transaction.RULE.code: "safe-migrate runs such statements one by one outside a transaction",
    transaction_control.RULE.code: "safe-migrate manages the transaction itself and ignores BEGIN/COMMIT in the file",
}


def blocking_checks(validation: dict[str, Any] | None, project: Project,
                    allow: frozenset[str] | set[str] = frozenset()) -> tuple[list[dict[str, Any]], list[str]]:
    """Validation failures that stop safe-migrate, and the ones it handles itself (with why).

    Args:
        validation: ``ValidationReport.to_dict()`` (None or empty: nothing blocks).
        project: read (migration files and ledger) only when the ledger or invalid-indexes check
            failed, to tell resumable work from real problems.
        allow: lint rules acknowledged for this run (``migrate --allow RULE``): their errors do not
            block (they are listed by :func:`acknowledged_findings`).

    Returns:
        (the failing checks that block, one line per handled check saying why it does not).

    A failed migration that migration-guard left resumable, and the INVALID index its interrupted
    ``CREATE INDEX CONCURRENTLY`` left behind, are what the apply step resumes and cleans up.
    """
    if not validation:
        return [], []
    bad = {CheckStatus.FAIL.value, CheckStatus.WARN.value} if validation.get("strict") else {CheckStatus.FAIL.value}
    failing = [c for c in validation.get("checks", []) if c.get("status") in bad]
    if not failing:
        return [], []
    resumable, leftover_indexes = resumable_work(project) if any(
        c["name"] in {LEDGER_CHECK, INVALID_INDEXES_CHECK} for c in failing) else (set(), set())
    blocking, ignored = [], []
    for check in failing:
        name = check["name"]
        if name in HANDLED_CHECKS:
            ignored.append(f"{name}: {check.get('reason', '')} ({HANDLED_CHECKS[name]})")
        elif name == LINT_CHECK and _only_handled_lint_errors(check, allow):
            rules = sorted({f["rule"] for f in check["data"]["findings"] if f.get("severity") == "error"})
            ignored.append(f"{LINT_CHECK}: " + "; ".join(
                f"{r} ({HANDLED_LINT_RULES[r] if r in HANDLED_LINT_RULES else 'acknowledged with --allow ' + r})"
                for r in rules))
        elif name == LEDGER_CHECK and resumable and all(d.split(":")[0] in resumable for d in check.get("details", [])):
            ignored.append(f"{LEDGER_CHECK}: {', '.join(sorted(resumable))} stopped midway under migration-guard "
                           "and will be resumed")
        elif name == INVALID_INDEXES_CHECK and leftover_indexes and all(
                i.get("name") in leftover_indexes for i in check.get("data", {}).get("indexes", [])):
            ignored.append(f"{INVALID_INDEXES_CHECK}: {', '.join(sorted(leftover_indexes))} left by the interrupted "
                           "migration; dropped and rebuilt when it resumes")
        else:
            blocking.append(check)
    return blocking, ignored


def resumable_work(project: Project) -> tuple[set[str], set[str]]:
    """(names of the migrations migration-guard left midway and will resume, names of the indexes
    their ``CREATE INDEX CONCURRENTLY`` statements build)."""
    from pglast import ast

    migrations = {m.name: m for m in read_migrations(project)}
    _exists, entries = read_ledger(project)
    names, indexes = set(), set()
    for entry in entries:
        migration = migrations.get(entry.migration_name)
        if is_resumable(entry, migration):
            names.add(entry.migration_name)
            for step in prepare_migration(migration).steps:
                node = step.statement.node if step.statement is not None else None
                if isinstance(node, ast.IndexStmt) and node.concurrent and node.idxname:
                    indexes.add(node.idxname)
    return names, indexes


def _only_handled_lint_errors(check: dict[str, Any], allow: frozenset[str] | set[str] = frozenset()) -> bool:
    findings = check.get("data", {}).get("findings")
    if not findings:
        return False
    errors = [f for f in findings if f.get("severity") == "error"]
    return bool(errors) and all(f.get("rule") in HANDLED_LINT_RULES or f.get("rule") in allow for f in errors)


def _lint_data(validation: dict[str, Any] | None) -> dict[str, Any]:
    check = next((c for c in (validation or {}).get("checks", []) if c.get("name") == LINT_CHECK), None)
    return (check or {}).get("data") or {}


def needed_acknowledgements(validation: dict[str, Any] | None,
                            allow: frozenset[str] | set[str] = frozenset()) -> list[dict[str, Any]]:
    """The blocking policy findings (a destructive change: DROP COLUMN, DROP TABLE ...) still to be
    acknowledged: rule, ``path:line:column``, the message and the exact comment to put directly
    above the statement (or ``migrate --allow RULE``)."""
    needed: dict[tuple[str, str], dict[str, Any]] = {}
    for f in _lint_data(validation).get("findings", []):
        if f.get("severity") != "error" or not f.get("acknowledgement") or f.get("rule") in allow:
            continue
        location = f"{f['path']}:{f['line']}:{f['column']}"
        known = needed.get((location, f["rule"]))
        if known is not None:  # one statement, several changes (DROP COLUMN a, DROP COLUMN b): one comment
            known["message"] += "; " + f.get("message", "")
            continue
        needed[(location, f["rule"])] = {"rule": f["rule"], "location": location, "path": f["path"], "line": f["line"],
                                         "message": f.get("message", ""), "acknowledgement": f["acknowledgement"]}
    return list(needed.values())


def acknowledged_findings(validation: dict[str, Any] | None,
                          allow: frozenset[str] | set[str] = frozenset()) -> list[dict[str, Any]]:
    """Destructive changes acknowledged for this run — by a ``-- migration-guard:ignore`` comment in
    the migration, or by ``--allow RULE`` — one dict each (rule, location, message, how), so the
    report and the artifact show a reviewer every one of them."""
    data = _lint_data(validation)
    found = [{"rule": f["rule"], "location": f.get("location") or f"{f['path']}:{f['line']}:{f['column']}",
              "message": f.get("message", ""), "by": f.get("acknowledged_by", "comment")}
             for f in data.get("acknowledged", [])]
    found += [{"rule": f["rule"], "location": f"{f['path']}:{f['line']}:{f['column']}", "message": f.get("message", ""),
               "by": f"--allow {f['rule']}"}
              for f in data.get("findings", []) if f.get("severity") == "error" and f.get("rule") in allow]
    return found
