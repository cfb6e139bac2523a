"""``-- migration-guard:ignore RULE[,RULE] reason`` comments.

A directive in the comments before the first statement applies to the whole file; a directive at
the end of a statement's line applies to that statement; any other directive applies to the next
statement. Rule codes are checked against the registry; unknown
codes are reported (rule ``unknown-suppression-rule``) instead of silently ignored.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

DIRECTIVE = re.compile(r"--\s*migration-guard:ignore\b[ \t]*([^\n]*)")


@dataclass(frozen=True)
class Suppression:
    """Rules silenced by one comment, and where the comment is (for unknown-rule findings)."""

    rules: tuple[str, ...]
    reason: str
    offset: int  # character offset of the comment in the file


def parse_directives(text: str, base_offset: int = 0) -> list[Suppression]:
    """Every ignore directive in ``text`` (a statement's preceding comments)."""
    if "migration-guard:ignore" not in text:
        return []
    found = []
    for match in DIRECTIVE.finditer(text):
        rest = match.group(1).strip()
        codes, _, reason = rest.partition(" ")
        rules = tuple(code.strip() for code in codes.split(",") if code.strip())
        found.append(Suppression(rules, reason.strip(), base_offset + match.start()))
    return found


def acknowledgement_comment(rule: str, reason: str = "intended: reviewed destructive change") -> str:
    """The ignore comment that acknowledges ``rule`` for the statement below it (parsed back by
    :func:`parse_directives`; a test pastes it above the statement and checks the finding is gone)."""
    return f"-- migration-guard:ignore {rule} {reason}"
