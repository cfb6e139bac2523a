"""`migration-guard trigger DEPLOYMENT`: start a deployment through the Prefect API from CI and
wait for it, streaming states and logs; the exit code is the run's outcome."""

from __future__ import annotations

from typing import Optional

import typer

from migration_guard.cli.output import console, err_console, print_error, print_json


def trigger(
    deployment: str = typer.Argument(..., help="flow/deployment, e.g. safe-migrate/safe-migrate (a bare name means name/name)."),
    params: Optional[list[str]] = typer.Option(None, "--param", "-p", help="Flow parameter KEY=VALUE (repeatable; JSON values like true, 3, [\"a\"] are parsed)."),
    timeout: Optional[float] = typer.Option(None, "--timeout", min=0, help="Seconds to wait for the run to finish (default: wait until it does). The run keeps going after a timeout.", show_default=False),
    as_json: bool = typer.Option(False, "--json", help="Print the outcome as JSON on stdout (states and logs go to stderr)."),
    poll: float = typer.Option(1.0, "--poll", min=0.1, help="Seconds between polls of the API."),
) -> None:
    """Start a deployment on the Prefect server in PREFECT_API_URL and follow it to the end.

    Prints the flow-run URL, every state change and log line, then the run's report artifact.

    Exit codes: 0 the run Completed; 1 it Failed, Crashed, was Cancelled, or --timeout passed;
    2 the API or the deployment cannot be reached or found (or bad --param).
    """
    from migration_guard.deployments.trigger import TriggerUnreachable, parse_params, trigger_deployment
    from migration_guard.tasks.errors import ConfigError

    out = err_console if as_json else console
    try:
        parameters = parse_params(params)
        result = trigger_deployment(
            deployment, parameters, timeout_s=timeout, poll_interval_s=poll,
            on_started=lambda run_id, url: out.print(f"flow run {run_id}: {url}", markup=False, highlight=False),
            on_state=lambda name, message: out.print(f"state: {name}" + (f" — {message}" if message else ""),
                                                     markup=False, highlight=False),
            on_log=lambda line: out.print(line, markup=False, highlight=False),
        )
    except (TriggerUnreachable, ConfigError) as exc:
        print_error(exc.message, exc.suggestion)
        raise typer.Exit(2) from None
    if as_json:
        print_json(result.to_dict())
    else:
        for artifact in result.artifacts:
            if artifact["type"] == "markdown" and artifact.get("data"):
                console.print(f"\n--- artifact {artifact['key'] or ''} ---", markup=False, highlight=False)
                console.print(artifact["data"], markup=False, highlight=False)
        verdict = "timed out (the run continues)" if result.timed_out else result.state_name
        console.print(f"{result.deployment}: {verdict} after {result.elapsed_s:.1f}s — {result.url}", markup=False,
                      highlight=False)
    raise typer.Exit(result.exit_code)


def register(app: typer.Typer) -> None:
    app.command("trigger")(trigger)
