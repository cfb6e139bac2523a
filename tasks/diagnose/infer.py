"""Order-based inference: statements run in order and stop at the first failure, so the catalog's
verdict on later statements tells us about earlier "unknown" ones, and vice versa (plain logic).

Rules, applied to the catalog verdicts:
1. Let K be the last statement whose effect is present and proves it ran (not IF [NOT] EXISTS,
   not a SET). Everything before K ran: an "unknown" before K is done; a "not done" before K
   ran and a later statement undid its effect, so it is done too (re-running it would be wrong).
2. The failing statement F is the one the ledger's logs name (if it is not before K), else the
   first statement after K that is not done.
3. Everything after F did not run: "unknown" after F is not done.
4. Unknowns between K and F: when logs named F, they ran (done) if anything before them is known
   to have run (step-by-step execution), and did not (not done) when every earlier known
   statement is not done (the whole migration ran in one transaction that rolled back).
   Without a named F they stay unknown — never guess.
"""

from __future__ import annotations

from migration_guard.tasks.diagnose.model import Effect, StatementDiagnosis

_PRESENT = (Effect.DONE, Effect.PARTLY_DONE)


def infer_from_order(
    statements: list[StatementDiagnosis], named_failing: int | None = None
) -> tuple[list[StatementDiagnosis], int | None]:
    """Apply the order rules; return (statements, index of the failing statement or None)."""
    result = list(statements)
    last_proven = max((s.index for s in result if s.effect in _PRESENT and s.evidence and not s.inferred),
                      default=None)
    if last_proven is not None:
        for s in result[:last_proven]:
            if s.effect is Effect.UNKNOWN:
                result[s.index] = s.with_effect(Effect.DONE, f"ran: statement {last_proven + 1} after it is done")
            elif s.effect is Effect.NOT_DONE:
                result[s.index] = s.with_effect(
                    Effect.DONE, f"ran (statement {last_proven + 1} after it is done); its effect was undone later")
    start = 0 if last_proven is None else last_proven
    failing = named_failing if named_failing is not None and named_failing >= start else None
    if failing is None and last_proven is not None and result[last_proven].effect is Effect.PARTLY_DONE:
        failing = last_proven
    first_not_done = next((s.index for s in result[start:] if s.effect in (Effect.NOT_DONE, Effect.PARTLY_DONE)
                           and not s.inferred), None)
    if failing is None:
        failing = first_not_done
        named = False
    else:
        named = True
    if failing is None:
        return result, None
    for s in result[failing + 1:]:
        if s.effect is Effect.UNKNOWN:
            result[s.index] = s.with_effect(Effect.NOT_DONE, f"after the failing statement {failing + 1}: never ran")
    if result[failing].effect is Effect.UNKNOWN and named:
        result[failing] = result[failing].with_effect(
            Effect.NOT_DONE, "the failing statement (named in the ledger's logs); a failed statement leaves no effect")
    if named:
        ran_before = last_proven is not None
        rolled_back = not ran_before and any(s.effect is Effect.NOT_DONE and not s.inferred for s in result[:failing])
        for s in result[start:failing]:
            if s.effect is not Effect.UNKNOWN:
                continue
            if ran_before:
                result[s.index] = s.with_effect(Effect.DONE, f"ran: before the failing statement {failing + 1}")
            elif rolled_back:
                result[s.index] = s.with_effect(
                    Effect.NOT_DONE, "rolled back with the whole migration (earlier statements have no effect)")
    return result, failing
