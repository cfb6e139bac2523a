"""One run of one check, in the kernel's words; suites map it to their results at report time."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Generic, TypeVar

from migration_guard.tasks.checks.check import Verdict

OutputT = TypeVar("OutputT")


class FailureKind(StrEnum):
    """Why a check could not run: the database refused the read (classified by SQLSTATE), our own
    code raised a deliberate error, or a bug."""

    DATABASE = "database"
    TOOL = "tool"
    INTERNAL = "internal"


@dataclass(frozen=True)
class Failure:
    """A check that raised instead of returning (every text redacted of the database's passwords).

    Attributes:
        kind: see :class:`FailureKind`.
        message: for people: the classified database message, our error's message, or the first
            line of the exception's text.
        suggestion: what to do (our errors' suggestion; empty for bugs).
        error_type: the exception's class name.
        raw: the first line of the exception's own text (redacted).
    """

    kind: FailureKind
    message: str
    suggestion: str = ""
    error_type: str = ""
    raw: str = ""


@dataclass(frozen=True)
class Result(Generic[OutputT]):
    """What the runner returns for one check: the check's output, or why there is none."""

    check: str
    verdict: Verdict
    output: OutputT | None = None
    failure: Failure | None = None
    duration_ms: float = 0.0
