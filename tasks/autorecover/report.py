"""The auto-recovery part of a healthcheck run for people: the markdown of the Prefect artifact
``db-health-recovery-<environment>`` (plain data; the healthcheck's ``tasks.py`` publishes it)."""

from __future__ import annotations

from migration_guard.tasks.artifacts import artifact_key
from migration_guard.tasks.autorecover.model import AutoRecovery

RECOVERY_PREFIX = "db-health-recovery"


def recovery_key(environment: str) -> str:
    """``db-health-recovery-<environment>``: the markdown artifact of the run's auto-recovery."""
    return artifact_key(RECOVERY_PREFIX, environment, fallback="default")


def recovery_markdown(recovery: AutoRecovery, environment: str) -> str:
    """Markdown: the policy, then each action with its state, detail and the command to run by hand."""
    lines = [f"# Auto-recovery ({environment}): AUTO_RECOVER={recovery.policy}", ""]
    if recovery.policy == "off":
        lines.append("Off: problems are alerted with the command to run; nothing is changed.")
    elif not recovery.actions:
        lines.append("Nothing to recover.")
    for action in recovery.actions:
        lines += [f"## {action.state}: {action.description}", "", f"on `{action.database}`, {action.subject}"
                  + (f", {action.seconds:.1f} s" if action.taken else ""), ""]
        if action.detail:
            lines += [action.detail, ""]
        lines += [f"1. `{c}`" for c in action.commands]
        lines.append("")
    return "\n".join(lines)
