"""The rule model and the one registry of every lint rule (one module per rule under ``rules/``)."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from migration_guard.tasks.lint.findings import Severity

#: Module names under ``migration_guard.tasks.lint.rules``; each defines ``RULE``.
RULE_MODULES: tuple[str, ...] = (
    # meta
    "syntax_error",
    "invalid_input",
    "unknown_suppression",
    # index
    "require_concurrent_index_creation",
    "require_concurrent_index_deletion",
    "require_concurrent_reindex",
    "concurrently_in_transaction",
    # constraints
    "constraint_missing_not_valid",
    "unique_constraint_without_index",
    "exclusion_constraint_on_existing_table",
    "domain_constraint",
    # columns
    "adding_not_nullable_column",
    "adding_column_volatile_default",
    "setting_not_nullable_column",
    "changing_column_type",
    "adding_generated_column",
    # destructive / breaking
    "ban_drop_table",
    "ban_drop_column",
    "ban_drop_schema_or_database",
    "ban_truncate",
    "renaming_table",
    "renaming_column",
    "ban_drop_not_null",
    "dml_without_where",
    "ban_duplicate_column_assignments",
    # transactions
    "transaction_control",
    "enum_value_used_in_same_transaction",
    "require_enum_value_ordering",
    # rewrites and heavy locks
    "vacuum_full",
    "cluster",
    "set_logged_unlogged",
    "detach_partition_without_concurrently",
    # types and names
    "prefer_jsonb",
    "ban_char_type",
    "prefer_text_over_varchar",
    "prefer_timestamptz",
    "prefer_bigint_primary_key",
    "prefer_bigint",
    "prefer_identity",
    "identifier_too_long",
    # robustness
    "require_if_exists_for_non_transactional",
    "prefer_robust_stmts",
    "missing_lock_timeout",
    "require_statement_timeout",
    "require_table_schema",
)


@dataclass(frozen=True)
class Violation:
    """What a rule's check yields: the message and, for lock rules, the table it blocks; ``fix``
    replaces the rule's generic fix when the rule can write this statement's own (pasteable)."""

    message: str
    table: tuple[str, str] | None = None
    severity: Severity | None = None
    fix: str | None = None


Check = Callable[[Any, Any], Iterable[Violation]]


@dataclass(frozen=True)
class Rule:
    """One lint rule.

    Attributes:
        code: stable kebab-case name used in output, suppressions and config.
        severity: static severity (without a database).
        summary: one line.
        problem: why it is dangerous (becomes ``Finding.why``).
        fix: the safe alternative, with SQL (becomes ``Finding.fix``).
        nodes: pglast node classes the check looks at (the engine dispatches on them);
            empty = the engine raises this rule itself (syntax errors, suppressions).
        check: ``check(statement, state) -> Iterable[Violation]``.
        blocking: the rule is about a lock or rewrite on an existing table; live mode re-levels it by
            the table's size (small → info, large → error).
        category: index, constraints, columns, destructive, transactions, locks, types, robustness, meta.
        opt_in: off unless enabled (``LINT_ENABLE`` / pyproject ``enable``): a house style, not a hazard.
        policy: a destructive change people make on purpose; a blocking finding prints the exact
            acknowledgement (the ignore comment) to add.
    """

    code: str
    severity: Severity
    summary: str
    problem: str
    fix: str
    category: str
    nodes: tuple[type, ...] = ()
    check: Check | None = field(default=None, compare=False)
    blocking: bool = False
    opt_in: bool = False
    policy: bool = False


@cache
def all_rules() -> tuple[Rule, ...]:
    """Every registered rule, in registry order."""
    return tuple(
        importlib.import_module(f"migration_guard.tasks.lint.rules.{name}").RULE for name in RULE_MODULES
    )


@cache
def rules_by_code() -> dict[str, Rule]:
    return {rule.code: rule for rule in all_rules()}


@cache
def rules_by_node() -> dict[type, tuple[Rule, ...]]:
    """Node class → the rules that inspect it (the engine's dispatch table)."""
    table: dict[type, list[Rule]] = {}
    for rule in all_rules():
        for node_class in rule.nodes:
            table.setdefault(node_class, []).append(rule)
    return {node_class: tuple(rules) for node_class, rules in table.items()}


def get_rule(code: str) -> Rule | None:
    """The rule named ``code``, or None."""
    return rules_by_code().get(code)
