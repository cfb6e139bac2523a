"""Agreement with squawk's own rule tests (tests/data/squawk-conformance/cases.json).

For every case whose squawk rule has a counterpart here (``RULE_MAP``), lint the SQL statically and
compare "our counterpart reports it (any severity)" with squawk's expected outcome (what its test
asserts; the squawk CLI's verdict when the test asserts nothing). Cases where we differ on purpose
are listed in ``differences.json`` with the reason; ``squawk-wrong`` ones do not count against us.

How squawk's settings are translated:
- ``assume_in_transaction`` is Prisma's one-query file (one implicit transaction), unless the SQL carries
  squawk's own ``-- squawk-disable-assume-in-transaction`` comment, which turns the setting off for
  that file (squawk's per-file override).
- Our opt-in counterparts of the case's squawk rule are enabled (squawk's tests enable the rule they test).
- Several squawk rules share one counterpart here (prefer-bigint-over-int and -over-smallint are one
  prefer-bigint; ban-uncommitted-transaction and transaction-nesting are one transaction-control). When a
  test asserts "ok" for its rule but the squawk CLI reports the same SQL under another squawk rule with the
  same counterpart, squawk as a tool reports it too: the expected outcome is "fires" (``via`` names it).

    .venv/bin/python bench/squawk_conformance.py [--show-disagreements]
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

CORPUS = Path(__file__).resolve().parent.parent / "tests" / "data" / "squawk-conformance"

#: squawk rule → our rule codes that cover it (None: no counterpart).
RULE_MAP: dict[str, tuple[str, ...] | None] = {
    "adding-field-with-default": ("adding-column-volatile-default", "adding-generated-column"),
    "adding-foreign-key-constraint": ("constraint-missing-not-valid",),
    "adding-not-nullable-field": ("setting-not-nullable-column",),
    "adding-required-field": ("adding-not-nullable-column",),
    "adding-serial-primary-key-field": ("unique-constraint-without-index",),
    "ban-alter-domain-with-add-constraint": ("domain-constraint",),
    "ban-create-domain-with-constraint": ("domain-constraint",),
    "ban-char-field": ("ban-char-type",),
    "ban-concurrent-index-creation-in-transaction": ("concurrently-in-transaction",),
    "ban-drop-column": ("ban-drop-column",),
    "ban-drop-database": ("ban-drop-schema-or-database",),
    "ban-drop-not-null": ("ban-drop-not-null",),
    "ban-drop-table": ("ban-drop-table",),
    "ban-duplicate-column-assignments": ("ban-duplicate-column-assignments",),
    "ban-truncate-cascade": ("ban-truncate",),
    "ban-uncommitted-transaction": ("transaction-control",),
    "changing-column-type": ("changing-column-type",),
    "constraint-missing-not-valid": ("constraint-missing-not-valid",),
    "disallowed-unique-constraint": ("unique-constraint-without-index",),
    "identifier-too-long": ("identifier-too-long",),
    "prefer-bigint-over-int": ("prefer-bigint",),
    "prefer-bigint-over-smallint": ("prefer-bigint",),
    "prefer-identity": ("prefer-identity",),
    "prefer-repack": ("vacuum-full", "cluster"),
    "prefer-robust-stmts": ("require-if-exists-for-non-transactional", "prefer-robust-stmts"),
    "prefer-text-field": ("prefer-text-over-varchar",),
    "prefer-timestamp-tz": ("prefer-timestamptz",),
    "renaming-column": ("renaming-column",),
    "renaming-table": ("renaming-table",),
    "require-concurrent-index-creation": ("require-concurrent-index-creation",),
    "require-concurrent-index-deletion": ("require-concurrent-index-deletion",),
    "require-concurrent-partition-detach": ("detach-partition-without-concurrently",),
    "require-concurrent-reindex": ("require-concurrent-reindex",),
    "require-enum-value-ordering": ("require-enum-value-ordering",),
    "require-lock-timeout": ("missing-lock-timeout",),
    "require-statement-timeout": ("require-statement-timeout",),
    "require-table-schema": ("require-table-schema",),
    "require-timeout-settings": ("missing-lock-timeout", "require-statement-timeout"),
    "transaction-nesting": ("transaction-control",),
}

#: squawk's per-file comment that turns ``assume_in_transaction`` off.
SQUAWK_DISABLE_ASSUME = "squawk-disable-assume-in-transaction"


@dataclass(frozen=True)
class Outcome:
    case_id: str
    squawk_rule: str
    expected: bool
    ours: bool | None  # None: we crashed
    ours_rules: tuple[str, ...]
    difference: str | None  # the recorded reason we differ, if any
    squawk_wrong: bool
    via: str | None = None  # the other squawk rule that reports an "ok" case (see the module docstring)

    @property
    def agrees(self) -> bool:
        return self.ours is not None and self.ours == self.expected


def load_cases() -> list[dict]:
    return json.loads((CORPUS / "cases.json").read_text())["cases"]


def load_differences() -> dict[str, dict]:
    return json.loads((CORPUS / "differences.json").read_text())


def expected_outcome(case: dict) -> bool:
    """What squawk's test asserts (the CLI's verdict when the test asserts nothing)."""
    if case.get("expect") is not None:
        return case["expect"] == "error"
    return bool(case.get("squawk_fires"))


def reported_via(case: dict, codes: tuple[str, ...]) -> str | None:
    """Another squawk rule the squawk CLI fired on this case whose counterpart is one of ``codes``."""
    for other in case.get("squawk_fired", ()):
        if other != case["squawk_rule"] and set(RULE_MAP.get(other) or ()) & set(codes):
            return other
    return None


def our_verdict(case: dict, codes: tuple[str, ...]) -> tuple[bool | None, tuple[str, ...]]:
    from migration_guard.tasks.lint.config import LintConfig
    from migration_guard.tasks.lint.context import LintContext
    from migration_guard.tasks.lint.engine import lint_text
    from migration_guard.tasks.lint.registry import get_rule

    settings = case.get("settings", {})
    version = settings.get("pg_version")
    sql = case["sql"]
    # squawk's assume_in_transaction (the tool runs the file in one transaction) is modelled as Prisma's
    # one-query file: PostgreSQL runs it as one implicit transaction.
    in_transaction = settings.get("assume_in_transaction") and SQUAWK_DISABLE_ASSUME not in sql
    context = LintContext(
        tool="prisma" if in_transaction else None,
        target_version_num=_version_num(version) if version else None,
    )
    opt_in = frozenset(code for code in codes if (rule := get_rule(code)) is not None and rule.opt_in)
    try:
        findings = lint_text(sql, "case.sql", context=context, config=LintConfig(enabled=opt_in))
    except Exception:  # noqa: BLE001 - a crash is a measured outcome
        return None, ()
    fired = tuple(sorted({f.rule for f in findings}))
    return any(code in fired for code in codes), fired


def _version_num(version: str) -> int:
    parts = [int(p) for p in version.split(".")] + [0]
    return parts[0] * 10000 + (parts[1] if parts[0] >= 10 else parts[1] * 100)


def evaluate() -> list[Outcome]:
    """One outcome per case with a counterpart rule."""
    differences = load_differences()
    outcomes = []
    for case in load_cases():
        codes = RULE_MAP.get(case["squawk_rule"])
        if not codes:
            continue
        ours, fired = our_verdict(case, codes)
        note = differences.get(case["id"])
        expected, via = expected_outcome(case), None
        if not expected and (via := reported_via(case, codes)) is not None:
            expected = True
        outcomes.append(Outcome(case["id"], case["squawk_rule"], expected, ours, fired,
                                note["why"] if note else None, bool(note and note.get("squawk_wrong")), via))
    return outcomes


def summary(outcomes: list[Outcome]) -> dict[str, float | int]:
    counted = [o for o in outcomes if not o.squawk_wrong]
    agree = sum(o.agrees for o in counted)
    return {"cases": len(outcomes), "squawk_right": len(counted), "agree": agree,
            "agreement": agree / len(counted) if counted else 1.0,
            "crashes": sum(o.ours is None for o in outcomes),
            "undocumented": sum(1 for o in counted if not o.agrees and o.difference is None)}


def main() -> int:
    parser = argparse.ArgumentParser(description="agreement with squawk's rule tests")
    parser.add_argument("--show-disagreements", action="store_true")
    args = parser.parse_args()
    outcomes = evaluate()
    per_rule: dict[str, list[Outcome]] = defaultdict(list)
    for outcome in outcomes:
        per_rule[outcome.squawk_rule].append(outcome)
    print(f"{'squawk rule':45} {'cases':>5} {'agree':>5}")
    for rule, items in sorted(per_rule.items()):
        print(f"{rule:45} {len(items):5} {sum(o.agrees for o in items):5}")
    total = summary(outcomes)
    print(f"\n{total['agree']}/{total['squawk_right']} agree where squawk is right "
          f"({total['agreement']:.1%}); {total['cases']} cases with a counterpart; crashes {total['crashes']}; "
          f"undocumented disagreements {total['undocumented']}")
    via = [o for o in outcomes if o.via]
    if via:
        print(f"{len(via)} cases squawk's test calls ok for its rule but squawk reports under another rule "
              "with the same counterpart: " + ", ".join(f"{o.case_id} ({o.via})" for o in via))
    if args.show_disagreements:
        for o in outcomes:
            if not o.agrees:
                print(f"  {o.case_id}: squawk {'fires' if o.expected else 'ok'}, ours {o.ours_rules}"
                      f"{' -- ' + o.difference if o.difference else ''}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
