"""`migration-guard deploy` and `migration-guard serve-deployments`: the flows as Prefect deployments."""

from __future__ import annotations

import os
from typing import Optional

import typer

from migration_guard.cli.output import console, err_console, handle_errors


def deploy(
    ctx: typer.Context,
    blocks: str = typer.Option(
        "default", "--blocks", help="Name of the blocks to save from the environment and pass to every run. "
        "Any other name also names the deployments (healthcheck/NAME ...): one set per database of a fleet.",
    ),
    work_pool: Optional[str] = typer.Option(
        None, "--work-pool", help="Work pool for the deployments (default: prefect.yaml's, a process pool "
        "created when missing).", show_default=False,
    ),
    only: Optional[list[str]] = typer.Option(
        None, "--only", help="Deploy only this deployment (repeatable): healthcheck, maintenance, safe-migrate, "
        "recover, validate.", show_default=False,
    ),
    image: Optional[str] = typer.Option(
        None, "--image", help="Container image for a Docker or Kubernetes work pool (create the pool first: "
        "prefect work-pool create NAME --type docker).", show_default=False,
    ),
    skip_blocks: bool = typer.Option(False, "--skip-blocks", help="Do not save blocks (use existing ones)."),
    skip_automations: bool = typer.Option(False, "--skip-automations", help="Do not create the automations."),
) -> None:
    """Register blocks, deployments and automations against the Prefect server (PREFECT_API_URL).

    1. Blocks: the block types, then a PostgreSQL Database and a Migration Project block named
       --blocks from DATABASE_URL, MIGRATIONS_DIR ... and alert channels from SLACK_WEBHOOK_URL /
       ALERT_WEBHOOK_URL (overwritten on each deploy).
    2. Deployments from deployments/prefect.yaml: healthcheck (hourly, overlapping runs cancelled),
       maintenance (daily 02:00 UTC), safe-migrate (one at a time, queued), recover (one at a
       time), validate. Start a worker with: prefect worker start --pool migration-guard
    3. Automations: notify the alert channels when a flow run fails or crashes; a dead-man's switch
       when no healthcheck has completed for 2 hours. Re-running deploy replaces them.

    Exit codes: 0 everything registered; 1 the API failed or a flow is not installed;
    2 bad configuration (PREFECT_API_URL unset, missing DATABASE_URL ...).
    """
    _deploy(ctx.obj, blocks, work_pool, tuple(only or ()), skip_blocks, skip_automations, image)


@handle_errors(error_exit_code=1, config_exit_code=2)
def _deploy(options, blocks: str, work_pool: str | None, only: tuple[str, ...], skip_blocks: bool,
            skip_automations: bool, image: str | None = None) -> None:
    from migration_guard.cli.blocks import api_call, check_block_name

    check_block_name(blocks)
    api_url = _require_api_url()
    console.print(f"deploying to [bold]{api_url}[/]")

    channel_ids: list = []
    if not skip_blocks:
        from migration_guard.blocks.registration import register_block_types, save_blocks_from_settings

        settings = options.settings()
        api_call(register_block_types)
        saved = api_call(lambda: save_blocks_from_settings(settings, blocks, overwrite=True))
        for kind, name in (("PostgreSQL Database", saved.database), ("Migration Project", saved.project)):
            if name:
                console.print(f"block  {kind} [bold]{name}[/]")
        for what in saved.skipped:
            console.print(f"[yellow]block skipped[/] {what}")
        for channel in saved.channels:
            console.print(f"block  alert channel [bold]{channel.slug}[/]")
        channel_ids = [c.block_document_id for c in saved.channels]
    else:
        channel_ids = api_call(_existing_channel_ids)

    from migration_guard.deployments.register import register_deployments

    report = api_call(lambda: register_deployments(blocks, work_pool, only, image=image))
    for name in report.deployments:
        console.print(f"deployment [bold]{name}[/]")
    for entrypoint in report.missing_flows:
        err_console.print(f"[yellow]not deployed[/] {entrypoint}: the flow is not installed")

    if not skip_automations:
        if channel_ids:
            from migration_guard.deployments.automations import apply_automations

            for name in api_call(lambda: apply_automations(channel_ids)):
                console.print(f"automation [bold]{name}[/]")
        else:
            err_console.print(
                "[yellow]no automations[/]: no alert channel; set SLACK_WEBHOOK_URL or ALERT_WEBHOOK_URL and deploy again"
            )
    pools = ", ".join(report.work_pools) or "migration-guard"
    console.print(f"next: start a worker with `prefect worker start --pool {pools.split(',')[0]}`")
    if report.missing_flows:
        raise typer.Exit(1)


def _existing_channel_ids() -> list:
    from prefect.client.orchestration import get_client

    from migration_guard.blocks.channels import SLACK_CHANNEL_NAME, WEBHOOK_CHANNEL_NAME

    ids = []
    with get_client(sync_client=True) as client:
        for slug, name in (("slack-incoming-webhook", SLACK_CHANNEL_NAME), ("custom-webhook", WEBHOOK_CHANNEL_NAME)):
            try:
                ids.append(client.read_block_document_by_name(name, slug, include_secrets=False).id)
            except Exception:  # ObjectNotFound: that channel is not configured
                continue
    return ids


def _require_api_url() -> str:
    from migration_guard.tasks.errors import ConfigError

    from prefect.settings import PREFECT_API_URL

    url = os.environ.get("PREFECT_API_URL") or PREFECT_API_URL.value()
    if not url:
        raise ConfigError(
            "PREFECT_API_URL is not set: deployments need a running Prefect server",
            "start one (prefect server start, or docker compose up) and export "
            "PREFECT_API_URL=http://127.0.0.1:4200/api",
        )
    return url


def serve_deployments(
    blocks: str = typer.Option("default", "--blocks", help="Blocks the runs read (see `deploy --blocks`)."),
    only: Optional[list[str]] = typer.Option(None, "--only", help="Serve only this deployment (repeatable).",
                                             show_default=False),
    limit: Optional[int] = typer.Option(None, "--limit", help="Maximum concurrent flow runs in this process.",
                                        show_default=False),
) -> None:
    """Serve every deployment from this one long-running process (no work pool or worker needed).

    The hourly healthcheck and daily maintenance schedules run while it runs; safe-migrate,
    recover and validate run when triggered (UI, `migration-guard trigger`, `prefect deployment
    run`). Stop it with Ctrl-C; that pauses the served schedules until it starts again.
    Needs PREFECT_API_URL. Blocks and automations are registered by `migration-guard deploy`.

    Exit codes: 0 stopped normally; 1 nothing to serve or the API failed; 2 bad configuration.
    """
    _serve(blocks, tuple(only or ()), limit)


@handle_errors(error_exit_code=1, config_exit_code=2)
def _serve(blocks: str, only: tuple[str, ...], limit: int | None) -> None:
    from migration_guard.cli.blocks import check_block_name

    check_block_name(blocks)
    _require_api_url()
    from migration_guard.deployments.serve import serve_deployments as serve

    serve(blocks, only, limit)


def register(app: typer.Typer) -> None:
    app.command("deploy")(deploy)
    app.command("serve-deployments")(serve_deployments)
