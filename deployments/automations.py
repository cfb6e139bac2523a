"""The automations `migration-guard deploy` creates on the Prefect server.

- **flow failed or crashed**: any migration-guard flow run ending Failed or Crashed notifies every
  configured alert channel within a second (reactive trigger on the flow-run state events).
- **healthcheck silent**: a dead-man's switch — no healthcheck run has finished (Completed or
  Failed) for 2 hours (proactive trigger). An hourly check that silently stops running is the seed's biggest blind
  spot: a stopped worker, a paused schedule or a dead server all look like "no alerts".
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

FLOW_NAMES = ("healthcheck", "maintenance", "safe-migrate", "recover", "validate")
FAILURE_AUTOMATION = "migration-guard: flow run failed or crashed"
DEAD_MANS_SWITCH = "migration-guard: healthcheck silent for 2 hours"
SILENCE_LIMIT = timedelta(hours=2)

FAILURE_SUBJECT = "migration-guard: {{ flow.name }} run {{ flow_run.name }} is {{ flow_run.state.name }}"
FAILURE_BODY = (
    "Flow run {{ flow.name }}/{{ flow_run.name }} ended {{ flow_run.state.name }} "
    "at {{ flow_run.state.timestamp }}.\n"
    "Message: {{ flow_run.state.message }}\n"
    "Parameters: database_block={{ flow_run.parameters.database_block }}\n"
    "Flow run: {flow_run_link}\n"
    "Next: open the run's logs and artifacts; for a failed migration run `migration-guard recover`."
)
#: the link when the UI address is not known at deploy time: the server's own PREFECT_UI_URL
SERVER_UI_LINK = "{{ flow_run|ui_url }}"
SILENCE_SUBJECT = "migration-guard: no healthcheck has run for 2 hours"
SILENCE_BODY = (
    "No healthcheck flow run has finished (Completed or Failed) in the last 2 hours, so nobody is watching "
    "the database. (A Failed healthcheck counts as alive: it ran, and the failure automation reported it.)\n"
    "Check: is a worker (or `migration-guard serve-deployments`) running? "
    "Is the healthcheck deployment's schedule paused? Is the Prefect server healthy?\n"
    "Commands: prefect worker ls / prefect deployment inspect healthcheck/healthcheck"
)


def failure_trigger(flow_names: tuple[str, ...] = FLOW_NAMES) -> Any:
    """Reactive trigger: a flow run of one of ``flow_names`` entered Failed or Crashed."""
    from prefect.events.schemas.automations import EventTrigger, Posture

    return EventTrigger(
        expect={"prefect.flow-run.Failed", "prefect.flow-run.Crashed"},
        match={"prefect.resource.id": "prefect.flow-run.*"},
        match_related={"prefect.resource.role": "flow", "prefect.resource.name": list(flow_names)},
        for_each={"prefect.resource.id"},
        posture=Posture.Reactive,
        threshold=1,
        within=timedelta(0),
    )


def silence_trigger(flow_name: str = "healthcheck", within: timedelta = SILENCE_LIMIT) -> Any:
    """Proactive trigger: no finished (Completed or Failed) run of ``flow_name`` within ``within``.

    A healthcheck that fails because it found a HIGH alert still ran (the failure automation
    reports it); the switch is for the check that stopped running at all.
    """
    from prefect.events.schemas.automations import EventTrigger, Posture

    return EventTrigger(
        expect={"prefect.flow-run.Completed", "prefect.flow-run.Failed"},
        match={"prefect.resource.id": "prefect.flow-run.*"},
        match_related={"prefect.resource.role": "flow", "prefect.resource.name": flow_name},
        posture=Posture.Proactive,
        threshold=1,
        within=within,
    )


def failure_body(ui_base: str | None = None) -> str:
    """The failure notification's text. With ``ui_base`` (the UI address `deploy` knows) the link is
    ``<ui_base>/runs/flow-run/<id>`` — the same form as alerts and `trigger` — and works even when
    the server was started without PREFECT_UI_URL (its ``ui_url`` filter then renders None)."""
    link = f"{ui_base.rstrip('/')}/runs/flow-run/{{{{ flow_run.id }}}}" if ui_base else SERVER_UI_LINK
    return FAILURE_BODY.replace("{flow_run_link}", link)


def build_automations(channel_block_ids: list[Any], flow_names: tuple[str, ...] = FLOW_NAMES,
                      ui_base: str | None = None) -> list[Any]:
    """The two automations, each notifying every channel (block document ids of notification blocks);
    ``ui_base`` is the Prefect UI address the links point to."""
    from prefect.events.actions import SendNotification
    from prefect.events.schemas.automations import AutomationCore as Automation

    def notify(subject: str, body: str) -> list[Any]:
        return [SendNotification(block_document_id=i, subject=subject, body=body) for i in channel_block_ids]

    return [
        Automation(
            name=FAILURE_AUTOMATION,
            description="Notify the alert channels when a migration-guard flow run fails or crashes.",
            trigger=failure_trigger(flow_names),
            actions=notify(FAILURE_SUBJECT, failure_body(ui_base)),
        ),
        Automation(
            name=DEAD_MANS_SWITCH,
            description="Dead-man's switch: no healthcheck run has finished (Completed or Failed) for 2 hours.",
            trigger=silence_trigger(),
            actions=notify(SILENCE_SUBJECT, SILENCE_BODY),
        ),
    ]


def apply_automations(channel_block_ids: list[Any], flow_names: tuple[str, ...] = FLOW_NAMES,
                      ui_base: str | None = None) -> list[str]:
    """Create (or replace, by name) the automations on the server; return their names.

    Re-running `deploy` therefore never duplicates them.
    """
    from prefect.client.orchestration import get_client

    if ui_base is None:
        from migration_guard.flows.prefect_api import ui_base_url

        ui_base = ui_base_url()
    automations = build_automations(channel_block_ids, flow_names, ui_base)
    with get_client(sync_client=True) as client:
        for automation in automations:
            for existing in client.read_automations_by_name(automation.name):
                client.delete_automation(existing.id)
            client.create_automation(automation)
    return [a.name for a in automations]
