"""Registering deployments (and their process work pool) against the configured Prefect API."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from migration_guard.deployments.specs import DeploymentSpec, load_specs, to_runner_deployment
from migration_guard.tasks.errors import ConfigError


@dataclass
class DeployReport:
    """What `deploy` registered, and what it had to skip."""

    deployments: list[str] = field(default_factory=list)
    missing_flows: list[str] = field(default_factory=list)
    work_pools: list[str] = field(default_factory=list)


def ensure_work_pool(name: str, pool_type: str = "process") -> bool:
    """Create the work pool if it does not exist; True when it was created."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect.exceptions import ObjectNotFound

    with get_client(sync_client=True) as client:
        try:
            client.read_work_pool(name)
            return False
        except ObjectNotFound:
            client.create_work_pool(WorkPoolCreate(name=name, type=pool_type))
            return True


def deployment_name(spec: DeploymentSpec, blocks_name: str) -> str:
    """``healthcheck`` for the default blocks; the blocks' name (one database of a fleet) otherwise."""
    return spec.name if blocks_name == "default" else blocks_name


def register_deployments(
    blocks_name: str = "default",
    work_pool: str | None = None,
    only: tuple[str, ...] = (),
    specs: list[DeploymentSpec] | None = None,
    image: str | None = None,
) -> DeployReport:
    """Apply every deployment of ``prefect.yaml`` whose flow is installed.

    Args:
        blocks_name: block documents the runs read (database_block / project_block parameters).
        work_pool: override the work pool named in prefect.yaml.
        only: deploy just these deployment names (empty = all).
        specs: override the definitions (tests).
        image: container image, for Docker / Kubernetes work pools (create those pools first).
    """
    report = DeployReport()
    for spec in specs or load_specs():
        if only and spec.name not in only:
            continue
        flow = spec.load_flow()
        if flow is None:
            report.missing_flows.append(spec.entrypoint)
            continue
        pool = work_pool or spec.work_pool
        if pool not in report.work_pools:
            ensure_work_pool(pool, "process")
            report.work_pools.append(pool)
        deployment = to_runner_deployment(
            spec, flow, name=deployment_name(spec, blocks_name),
            parameters={"database_block": blocks_name, "project_block": blocks_name}, image=image,
        )
        refuse_other_mode([f"{flow.name}/{deployment.name}"], "deploy")
        deployment.apply(work_pool_name=pool)
        report.deployments.append(f"{flow.name}/{deployment.name}")
    return report


def runner_deployments_for_serve(blocks_name: str = "default", only: tuple[str, ...] = ()) -> tuple[list[Any], list[str]]:
    """(RunnerDeployments for ``serve()``, entrypoints of flows not installed)."""
    deployments, missing = [], []
    for spec in load_specs():
        if only and spec.name not in only:
            continue
        flow = spec.load_flow()
        if flow is None:
            missing.append(spec.entrypoint)
            continue
        deployments.append(to_runner_deployment(
            spec, flow, name=deployment_name(spec, blocks_name),
            parameters={"database_block": blocks_name, "project_block": blocks_name}, for_serve=True,
        ))
    return deployments, missing


def refuse_other_mode(names: list[str], mode: str) -> None:
    """Refuse to register ``names`` (``flow/deployment``) in ``mode`` ("deploy" or "serve") when they
    exist in the other mode: serving a worker's deployment rewrites its entrypoint to a local file
    (the worker's next run crashes) and stopping serve pauses its schedules; deploying over served
    ones leaves the serve process running deployments it no longer owns.

    Raises:
        ConfigError: names the registered mode and how to switch.
    """
    from prefect.client.orchestration import get_client
    from prefect.exceptions import ObjectNotFound

    clashes = []
    with get_client(sync_client=True) as client:
        for name in names:
            try:
                existing = client.read_deployment_by_name(name)
            except ObjectNotFound:
                continue
            registered = "deploy" if existing.work_pool_name else "serve"
            if registered != mode:
                clashes.append((name, existing.work_pool_name))
    if not clashes:
        return
    listed = ", ".join(name for name, _ in clashes)
    deletes = " && ".join(f"prefect deployment delete {name}" for name, _ in clashes)
    if mode == "serve":
        pool = clashes[0][1]
        raise ConfigError(
            f"{listed} registered by `migration-guard deploy` (work pool {pool}, run by a worker); serving them "
            "here would rewrite them to this folder's files and pause their schedules when serve stops",
            f"keep the worker, or serve under other names (--blocks NAME), or switch to serve: {deletes}",
        )
    raise ConfigError(
        f"{listed} registered by `migration-guard serve-deployments` (no work pool)",
        f"keep serving, or switch to a worker: stop serve-deployments, then {deletes} and deploy again",
    )
